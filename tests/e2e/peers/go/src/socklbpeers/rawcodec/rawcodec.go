// Package rawcodec registers a gRPC codec that passes []byte through
// untouched, so the peers need no protobuf code generation. It is named
// "proto" so that it also serves plain "application/grpc" calls (the python
// peers'), which grpc-go decodes with the codec of that name; importing the
// package replaces grpc-go's protobuf codec for the whole process.
package rawcodec

import (
	"fmt"

	"google.golang.org/grpc/encoding"
)

// MaxMessageBytes is large enough for the message-size tests; gRPC's
// default receive limit is 4 MiB.
const MaxMessageBytes = 64 * 1024 * 1024

type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawcodec: cannot marshal %T", v)
}

func (codec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawcodec: cannot unmarshal into %T", v)
	}
	*m = append((*m)[:0], data...)
	return nil
}

func init() { encoding.RegisterCodec(codec{}) }
