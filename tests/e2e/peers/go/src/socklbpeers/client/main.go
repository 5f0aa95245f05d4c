// Command load_client is the grpc-go twin of peers/load_client.py: steady
// gRPC load for socklb's rebalancing tests and benchmarks.
//
// It opens --channels independent channels (each its own grpc.Dial, so its
// own TCP connection; pick_first unless --lb-policy) to --target and runs
// --concurrency callers on each. Each caller makes a SayHello call every
// 1/--rate seconds for --duration seconds (caller j offset by j/(K*rate)), or
// back to back with --closed-loop. It prints "STARTED" once every caller has
// made its first call, then at the end one JSON line:
//
//	{"records": [[start, end, channel, pod or null, status, client_port], ...]}
//
// start/end are wall-clock seconds; status is "OK" or the gRPC status code
// name ("UNAVAILABLE", ...); client_port is the port the server saw.
//
// A target without a scheme goes through grpc-go's "dns" resolver (as
// C-core's default does), with TXT service-config lookups off.
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
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/status"
	"socklbpeers/rawcodec"
)

const (
	methodPath = "/sample.service.HelloWorld/SayHello"
)

// Status names as gRPC's other stacks (and python's StatusCode) spell them;
// grpc-go's codes.Code.String() gives "Unavailable".
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE",
	codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

func codeName(c codes.Code) string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return strconv.Itoa(int(c))
}

type options struct {
	target       string
	channels     int
	rate         float64
	duration     float64
	deadline     float64
	closedLoop   bool
	concurrency  int
	requestBytes int
	replyBytes   int
	lbPolicy     string
}

func parseArgs() options {
	var o options
	fs := flag.NewFlagSet("load_client", flag.ExitOnError)
	fs.StringVar(&o.target, "target", "", "HOST:PORT or a gRPC target URI (required)")
	fs.IntVar(&o.channels, "channels", 1, "independent channels (TCP connections)")
	fs.Float64Var(&o.rate, "rate", 5.0, "calls/s per caller")
	fs.Float64Var(&o.duration, "duration", 10.0, "seconds")
	fs.Float64Var(&o.deadline, "deadline", 5.0, "per-call deadline, seconds")
	fs.BoolVar(&o.closedLoop, "closed-loop", false,
		"each caller calls again as soon as a call ends; --rate is ignored")
	fs.IntVar(&o.concurrency, "concurrency", 1, "callers sharing each channel")
	fs.IntVar(&o.requestBytes, "request-bytes", 0, "pad each request with N bytes")
	fs.IntVar(&o.replyBytes, "reply-bytes", 0, "ask the server to pad each reply with N bytes")
	fs.StringVar(&o.lbPolicy, "lb-policy", "", "channel LB policy, e.g. round_robin (default pick_first)")
	fs.Parse(os.Args[1:])
	bad := func(msg string) {
		fmt.Fprintln(os.Stderr, "load_client: "+msg)
		os.Exit(2)
	}
	switch {
	case o.target == "":
		bad("--target is required")
	case fs.NArg() > 0:
		bad("unexpected arguments: " + strings.Join(fs.Args(), " "))
	case o.channels < 1 || o.concurrency < 1:
		bad("--channels and --concurrency must be at least 1")
	case !o.closedLoop && o.rate <= 0:
		bad("--rate must be > 0")
	case o.requestBytes < 0 || o.replyBytes < 0:
		bad("--request-bytes and --reply-bytes must not be negative")
	}
	return o
}

// requestBody is `{}` by default, else the JSON load_client.py sends.
func requestBody(o options) []byte {
	if o.replyBytes == 0 && o.requestBytes == 0 {
		return []byte("{}")
	}
	var fields []string
	if o.replyBytes > 0 {
		fields = append(fields, fmt.Sprintf(`"reply_bytes": %d`, o.replyBytes))
	}
	if o.requestBytes > 0 {
		fields = append(fields, `"pad": "`+strings.Repeat("x", o.requestBytes)+`"`)
	}
	return []byte("{" + strings.Join(fields, ", ") + "}")
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func fromSeconds(s float64) time.Time {
	return time.Unix(0, int64(s*1e9))
}

type record struct {
	start, end float64
	channel    int
	pod        *string
	status     string
	port       *int
}

func (r record) MarshalJSON() ([]byte, error) {
	return json.Marshal([]interface{}{r.start, r.end, r.channel, r.pod, r.status, r.port})
}

// clientPort is the port in the server's view of the peer, "ipv4:IP:PORT".
func clientPort(peer string) *int {
	i := strings.LastIndexByte(peer, ':')
	if peer == "" || i < 0 {
		return nil
	}
	p, err := strconv.Atoi(peer[i+1:])
	if err != nil {
		return nil
	}
	return &p
}

var badReplyOnce sync.Once

// The first few failed calls' errors go to stderr: the records keep only codes.
var errorsShown int32

func noteError(err error) {
	if atomic.AddInt32(&errorsShown, 1) <= 5 {
		fmt.Fprintf(os.Stderr, "load_client: call failed: %v\n", err)
	}
}

func oneCall(cc *grpc.ClientConn, body []byte, o options, callOpts []grpc.CallOption) record {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(),
		time.Duration(o.deadline*float64(time.Second)))
	defer cancel()
	var out []byte
	err := cc.Invoke(ctx, methodPath, body, &out, callOpts...)
	end := time.Now()
	r := record{start: seconds(start), end: seconds(end)}
	if err != nil {
		r.status = codeName(status.Code(err))
		noteError(err)
		return r
	}
	var reply struct {
		Pod  *string `json:"pod"`
		Peer string  `json:"peer"`
	}
	if jerr := json.Unmarshal(out, &reply); jerr != nil || reply.Pod == nil {
		badReplyOnce.Do(func() { fmt.Fprintf(os.Stderr, "load_client: bad reply %.80q\n", out) })
		r.status = "INTERNAL"
		return r
	}
	r.pod, r.status, r.port = reply.Pod, "OK", clientPort(reply.Peer)
	return r
}

type collector struct {
	mu      sync.Mutex
	records []record
}

func (c *collector) add(r record) {
	c.mu.Lock()
	c.records = append(c.records, r)
	c.mu.Unlock()
}

// nextDue is when call k of a caller is due, or false once it is done; as
// load_client.py's next_due.
func nextDue(first float64, k int, o options, stopAt float64) (float64, bool) {
	if o.closedLoop {
		now := seconds(time.Now())
		return now, now < stopAt
	}
	due := first + float64(k)/o.rate
	return due, due < stopAt
}

func callerOffset(j int, o options) float64 {
	if o.closedLoop || o.concurrency == 1 {
		return 0
	}
	return float64(j) / (float64(o.concurrency) * o.rate)
}

func runCaller(idx, j int, cc *grpc.ClientConn, body []byte, o options, callOpts []grpc.CallOption,
	recs *collector, started *sync.WaitGroup, first, stopAt float64) {
	first += callerOffset(j, o)
	k := 0
	for {
		due, ok := nextDue(first, k, o, stopAt)
		if !ok {
			break
		}
		if d := time.Until(fromSeconds(due)); d > 0 {
			time.Sleep(d)
		}
		r := oneCall(cc, body, o, callOpts)
		r.channel = idx
		recs.add(r)
		if k == 0 {
			started.Done()
		}
		k++
	}
	if k == 0 { // no call fitted in --duration: do not hold STARTED back
		started.Done()
	}
}

func dialOptions(o options) []grpc.DialOption {
	opts := []grpc.DialOption{
		grpc.WithInsecure(),
		grpc.WithNoProxy(),
		// No TXT lookups for a service config: C-core does none by default.
		// A default service config (below) still applies.
		grpc.WithDisableServiceConfig(),
	}
	if o.lbPolicy != "" {
		opts = append(opts, grpc.WithDefaultServiceConfig(
			fmt.Sprintf(`{"loadBalancingConfig": [{%q: {}}]}`, o.lbPolicy)))
	}
	return opts
}

func main() {
	o := parseArgs()
	resolver.SetDefaultScheme("dns")
	body := requestBody(o)
	var callOpts []grpc.CallOption
	if o.replyBytes > 0 || o.requestBytes > 0 {
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(rawcodec.MaxMessageBytes),
			grpc.MaxCallSendMsgSize(rawcodec.MaxMessageBytes))
	}

	recs := &collector{}
	var started, done sync.WaitGroup
	started.Add(o.channels * o.concurrency)
	stopAt := seconds(time.Now()) + o.duration
	conns := make([]*grpc.ClientConn, o.channels)
	for i := range conns {
		cc, err := grpc.Dial(o.target, dialOptions(o)...)
		if err != nil {
			fmt.Fprintf(os.Stderr, "load_client: dial %s: %v\n", o.target, err)
			os.Exit(1)
		}
		conns[i] = cc
		first := seconds(time.Now())
		for j := 0; j < o.concurrency; j++ {
			done.Add(1)
			go func(i, j int) {
				defer done.Done()
				runCaller(i, j, cc, body, o, callOpts, recs, &started, first, stopAt)
			}(i, j)
		}
	}

	waitFor := func(wg *sync.WaitGroup, limit time.Duration) {
		ch := make(chan struct{})
		go func() { wg.Wait(); close(ch) }()
		select {
		case <-ch:
		case <-time.After(limit):
		}
	}
	sec := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	waitFor(&started, sec(o.duration))
	fmt.Println("STARTED")
	waitFor(&done, sec(o.duration+o.deadline+5))
	for _, cc := range conns {
		cc.Close()
	}

	recs.mu.Lock()
	out := append([]record(nil), recs.records...)
	recs.mu.Unlock()
	sort.Slice(out, func(a, b int) bool {
		if out[a].start != out[b].start {
			return out[a].start < out[b].start
		}
		if out[a].end != out[b].end {
			return out[a].end < out[b].end
		}
		return out[a].channel < out[b].channel
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string][]record{"records": out}); err != nil {
		fmt.Fprintf(os.Stderr, "load_client: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.Write(buf.Bytes())
}
