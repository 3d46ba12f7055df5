// Command ferretdb is a thin wrapper around FerretDB's embeddable package
// (github.com/FerretDB/FerretDB/ferretdb). It exists so that FerretDB can be
// built as a dependency of this module rather than as its own main module
// (which requires generated build/version files that the module proxy copy
// does not contain).
//
// It accepts a subset of the upstream `ferretdb` command line flags; flags
// that only matter to the upstream binary are accepted and ignored.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	fs := flag.NewFlagSet("ferretdb", flag.ExitOnError)

	handler := fs.String("handler", "sqlite", "backend handler: sqlite or postgresql")
	sqliteURL := fs.String("sqlite-url", "file:data/", "SQLite URI (directory) for the sqlite handler")
	postgresqlURL := fs.String("postgresql-url", "", "PostgreSQL URL for the postgresql handler")
	listenAddr := fs.String("listen-addr", "127.0.0.1:27017", "listen TCP address")
	listenUnix := fs.String("listen-unix", "", "listen Unix domain socket path")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")

	// Accepted for command-line compatibility with the upstream binary; ignored.
	// The embedded package never runs telemetry, keeps state in memory and
	// has no debug HTTP handler.
	_ = fs.String("telemetry", "disable", "ignored (embedded FerretDB never sends telemetry)")
	_ = fs.String("state-dir", "-", "ignored (state is kept in memory)")
	_ = fs.String("debug-addr", "-", "ignored (no debug handler)")
	_ = fs.String("mode", "normal", "ignored (always normal)")

	_ = fs.Parse(os.Args[1:])

	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ferretdb: unexpected arguments: %q\n", fs.Args())
		os.Exit(2)
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.ToUpper(*logLevel))); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb: invalid --log-level: %s\n", err)
		os.Exit(2)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{
			TCP:  *listenAddr,
			Unix: *listenUnix,
		},
		Logger:        logger,
		Handler:       *handler,
		PostgreSQLURL: *postgresqlURL,
		SQLiteURL:     *sqliteURL,
	})
	if err != nil {
		logger.Error("failed to start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := f.Run(ctx); err != nil {
			logger.Error("FerretDB stopped with error", "error", err)
		}
	}()

	// MongoDBURI blocks until the listener is ready.
	logger.Info("FerretDB listening", "uri", f.MongoDBURI(), "handler", *handler)

	<-done
	logger.Info("FerretDB stopped")
}
