// Command greeter_server is the grpc-go twin of peers/greeter_server.py: a
// minimal gRPC "pod" for socklb's end-to-end tests.
//
// It serves /sample.service.HelloWorld/SayHello with raw bytes (no protobuf
// codegen). Every reply is the JSON object {"pod": NAME, "peer": PEER, "n": N},
// byte for byte as the python server writes it (json.dumps' separators, and
// PEER in gRPC C-core's form, "ipv4:127.0.0.1:44206" or
// "ipv6:%5B::1%5D:44206").
// A request that is a JSON object with "reply_bytes": N (N > 0) gets one more
// field, "pad", of N bytes ("x" * N); any other request gets the plain reply.
//
// Prints "READY name=... listen=..." once serving and "EXIT name=... calls=N"
// when it stops (SIGTERM, SIGINT, or stdin EOF with --exit-on-stdin-eof).
//
// Built in GOPATH mode against Debian's golang-google-grpc-dev (grpc-go 1.33);
// see ../../build-peers.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/peer"
	"socklbpeers/rawcodec"
)

const (
	service = "sample.service.HelloWorld"
	method  = "SayHello"
)

// pyString encodes s as python's json.dumps does (ensure_ascii=True).
func pyString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (r >= 0x7f && r <= 0xffff):
			fmt.Fprintf(b, `\u%04x`, r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// peerString names the client address as gRPC C-core's context.peer() does.
func peerString(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	if a, ok := p.Addr.(*net.TCPAddr); ok {
		if a.IP.To4() != nil {
			return fmt.Sprintf("ipv4:%s:%d", a.IP.To4(), a.Port)
		}
		// C-core (1.51, Debian's python3-grpcio) percent-encodes the
		// brackets: "ipv6:%5B::1%5D:44206".
		return fmt.Sprintf("ipv6:%%5B%s%%5D:%d", a.IP, a.Port)
	}
	return p.Addr.String()
}

// replyBytes is the "reply_bytes" a request asks for, or 0. Like the python
// server it takes only a JSON integer > 0 (not 1.0, not true).
func replyBytes(req []byte) int {
	if !bytes.Contains(req, []byte("reply_bytes")) {
		return 0
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(req, &obj) != nil {
		return 0
	}
	raw, ok := obj["reply_bytes"]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil || n <= 0 || n > rawcodec.MaxMessageBytes {
		return 0
	}
	return int(n)
}

type greeter struct {
	name  string
	calls int64
}

func (g *greeter) sayHello(ctx context.Context, req []byte) []byte {
	n := atomic.AddInt64(&g.calls, 1)
	pad := replyBytes(req)
	var b bytes.Buffer
	b.Grow(96 + len(g.name) + pad)
	b.WriteString(`{"pod": `)
	pyString(&b, g.name)
	b.WriteString(`, "peer": `)
	pyString(&b, peerString(ctx))
	b.WriteString(`, "n": `)
	b.WriteString(strconv.FormatInt(n, 10))
	if pad > 0 {
		b.WriteString(`, "pad": "`)
		b.Write(bytes.Repeat([]byte("x"), pad))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.Bytes()
}

func handler(srv interface{}, ctx context.Context, dec func(interface{}) error,
	_ grpc.UnaryServerInterceptor) (interface{}, error) {
	var req []byte
	if err := dec(&req); err != nil {
		return nil, err
	}
	return srv.(*greeter).sayHello(ctx, req), nil
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: service,
	HandlerType: (*interface{})(nil),
	Methods:     []grpc.MethodDesc{{MethodName: method, Handler: handler}},
}

func main() {
	fs := flag.NewFlagSet("greeter_server", flag.ExitOnError)
	listen := fs.String("listen", "", "HOST:PORT, e.g. [::]:8080 (required)")
	name := fs.String("name", "", "pod name put in replies (required)")
	ageMs := fs.Int("max-connection-age-ms", 0,
		"if >0, server sends GOAWAY after this connection age")
	stdinEOF := fs.Bool("exit-on-stdin-eof", false, "stop when stdin closes")
	fs.Parse(os.Args[1:])
	if *listen == "" || *name == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "greeter_server: --listen and --name are required")
		fs.Usage()
		os.Exit(2)
	}

	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(rawcodec.MaxMessageBytes),
		grpc.MaxSendMsgSize(rawcodec.MaxMessageBytes),
	}
	if *ageMs > 0 {
		// Grace equal to the age, as greeter_server.py sets it. grpc-go adds
		// +-10% jitter to the age (C-core does too).
		age := time.Duration(*ageMs) * time.Millisecond
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge: age, MaxConnectionAgeGrace: age}))
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot listen on %s: %v\n", *listen, err)
		os.Exit(1)
	}
	g := &greeter{name: *name}
	server := grpc.NewServer(opts...)
	server.RegisterService(&serviceDesc, g)

	stop := make(chan struct{}, 4)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sigs; stop <- struct{}{} }()
	if *stdinEOF {
		go func() { io.Copy(io.Discard, os.Stdin); stop <- struct{}{} }()
	}
	served := make(chan error, 1)
	go func() { served <- server.Serve(lis) }()
	fmt.Printf("READY name=%s listen=%s\n", *name, *listen)

	select {
	case <-stop:
	case err := <-served:
		fmt.Fprintf(os.Stderr, "serve: %v\n", err)
	}
	server.Stop()
	fmt.Printf("EXIT name=%s calls=%d\n", *name, atomic.LoadInt64(&g.calls))
}
