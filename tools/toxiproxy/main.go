// Command toxiproxy is a thin wrapper around the Toxiproxy v2 server package
// (github.com/Shopify/toxiproxy/v2). It exists so that the server can be
// built as a dependency of this module, with a pinned version and a complete
// go.sum, instead of through `go install` of the upstream command.
//
// It accepts the upstream `toxiproxy-server` flags -host, -port and -config,
// plus -log-level (upstream reads the LOG_LEVEL environment variable, which
// is still honoured when -log-level is not given).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/Shopify/toxiproxy/v2"
)

// version is the Toxiproxy release pinned in go.mod; reported by GET /version.
const version = "2.5.0"

func main() {
	fs := flag.NewFlagSet("toxiproxy", flag.ExitOnError)
	host := fs.String("host", "127.0.0.1", "host for the HTTP API to listen on")
	port := fs.String("port", "8474", "port for the HTTP API to listen on")
	config := fs.String("config", "", "JSON file with proxies to create on startup")
	logLevel := fs.String("log-level", os.Getenv("LOG_LEVEL"),
		"log level: trace, debug, info, warn, error (default: $LOG_LEVEL, else info)")
	printVersion := fs.Bool("version", false, "print the version and exit")
	_ = fs.Parse(os.Args[1:])

	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "toxiproxy: unexpected arguments: %q\n", fs.Args())
		os.Exit(2)
	}

	toxiproxy.Version = version
	if *printVersion {
		fmt.Printf("toxiproxy-server version %s\n", toxiproxy.Version)
		return
	}

	zerolog.TimestampFunc = func() time.Time { return time.Now().UTC() }
	zerolog.CallerMarshalFunc = func(pc uintptr, file string, line int) string {
		for i := len(file) - 1; i > 0; i-- {
			if file[i] == '/' {
				file = file[i+1:]
				break
			}
		}
		return file + ":" + strconv.Itoa(line)
	}
	logger := zerolog.New(os.Stderr).With().Caller().Timestamp().Logger()
	if *logLevel != "" {
		lvl, err := zerolog.ParseLevel(*logLevel)
		if err != nil {
			fmt.Fprintf(os.Stderr, "toxiproxy: invalid -log-level %q: %s\n", *logLevel, err)
			os.Exit(2)
		}
		logger = logger.Level(lvl)
	}

	// Exit cleanly on SIGTERM/SIGINT. Proxies live in memory only, so there
	// is nothing to flush; open client connections are simply dropped.
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		sig := <-signals
		logger.Info().Str("signal", sig.String()).Msg("Toxiproxy stopped")
		os.Exit(0)
	}()

	metrics := toxiproxy.NewMetricsContainer(prometheus.NewRegistry())
	server := toxiproxy.NewServer(metrics, logger)
	if *config != "" {
		server.PopulateConfig(*config)
	}

	// Listen blocks; it logs at fatal level (and exits 1) if the port is taken.
	server.Listen(*host, *port)
}
