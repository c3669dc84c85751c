package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/daemon/server"
)

// daemonOptions are the flags of the commands that run the server.
type daemonOptions struct {
	dataDir   string
	listen    string
	logLevel  string
	logFormat string
}

func (o *daemonOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "where the server keeps its state")
	f.StringVar(&o.listen, "listen", server.DefaultListen, "host:port the API is served on")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
}

// defaultDataDir is $XDG_DATA_HOME/wharf, else ~/.local/share/wharf.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "wharf")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "wharf")
	}
	return "wharf-data"
}

// logger builds the slog logger the flags ask for, writing to w.
func (o *daemonOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("unknown --log-level %q; use debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown --log-format %q; use text or json", o.logFormat)
}

// start starts the daemon the options describe.
func (o *daemonOptions) start(ctx context.Context, g *globals) (*server.Daemon, *slog.Logger, error) {
	log, err := o.logger(g.Err)
	if err != nil {
		return nil, nil, err
	}
	if o.dataDir == "" {
		return nil, nil, errors.New("--data-dir is empty; name a directory for the server's state")
	}
	d, err := server.Start(ctx, server.Config{DataDir: o.dataDir, Listen: o.listen, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return d, log, nil
}

// serveUntilDone waits for ctx to end (SIGINT or SIGTERM) or the server to
// fail, then shuts the daemon down gracefully.
func serveUntilDone(ctx context.Context, d *server.Daemon, log *slog.Logger) error {
	werr := d.Wait(ctx)
	if werr == nil {
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return errors.Join(werr, d.Shutdown(sctx))
}

func newServerCommand(g *globals) *cobra.Command {
	var o daemonOptions
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server, with its state in --data-dir, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, log, err := o.start(ctx, g)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "wharf server: serving the API at %s (data in %s)\n", d.URL(), o.dataDir)
			return serveUntilDone(ctx, d, log)
		},
	}
	o.addFlags(cmd)
	return cmd
}
