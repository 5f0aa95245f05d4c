// h2front: an HTTPS front that speaks HTTP/2 as kube-apiserver does (Go's
// net/http server, ALPN h2, Go's default of 250 concurrent streams, each
// response flushed as it is written, as the API server's watch handler
// does), passing every request to the fake API server behind it (HTTP/1.1).
// It logs one JSON line per request on stdout: its protocol, the client's
// address (one per TCP connection) and path.
//
//	h2front -listen IP:PORT -cert F -key F -upstream https://127.0.0.1:7443
package main

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "", "IP:PORT")
	cert := flag.String("cert", "", "certificate")
	key := flag.String("key", "", "key")
	upstream := flag.String("upstream", "", "the fake API server's URL")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // a watch streams: flush every write
	proxy.Transport = &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, // the fake's own test cert
		MaxIdleConnsPerHost: 100,
	}
	var mu sync.Mutex
	out := json.NewEncoder(os.Stdout)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		out.Encode(map[string]interface{}{"kind": "front-request", "proto": r.Proto,
			"peer": r.RemoteAddr, "path": r.URL.Path, "query": r.URL.RawQuery,
			"t": float64(time.Now().UnixNano()) / 1e9})
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	})
	srv := &http.Server{Addr: *listen, Handler: handler}
	mu.Lock()
	out.Encode(map[string]interface{}{"kind": "ready"})
	mu.Unlock()
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}
