// tlspeer: both ends of an HTTPS exchange over Go's crypto/tls, for the ebpf receiver's TLS test
// (integration-tests/tests/ebpf_tls.rs). HTTP/1.1 only, so the plaintext is text.
//
//	tlspeer server <addr> <cert.pem> <key.pem>   serves 200 "hello <path>" for every path
//	tlspeer client <url> [n]                     GETs the URL n times (default 1) over one
//	                                             connection (any certificate), prints the statuses
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: tlspeer server <addr> <cert> <key> | tlspeer client <url>")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "server":
		server := &http.Server{
			Addr: os.Args[2],
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				fmt.Fprintf(w, "hello %s\n", r.URL.Path)
			}),
			// a non-nil empty map turns HTTP/2 off
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		}
		fmt.Println("listening on", os.Args[2])
		err := server.ListenAndServeTLS(os.Args[3], os.Args[4])
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	case "client":
		client := &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
				ForceAttemptHTTP2: false,
				TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
			},
		}
		n := 1
		if len(os.Args) > 3 {
			n, _ = strconv.Atoi(os.Args[3])
		}
		for i := 0; i < n; i++ {
			resp, err := client.Get(os.Args[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			fmt.Println(resp.StatusCode)
			fmt.Print(string(body))
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
}
