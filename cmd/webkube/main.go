// Command webkube runs an embedded Kubernetes cluster and a dashboard to learn it with.
//
//	webkube [--addr 127.0.0.1:8080] [--data-dir ./webkube-data] [--nodes 1] ...
//	webkube image import FILE | webkube image ls
//	webkube reset [--data-dir D] [--data]   (webkube stopped: remove its pods, network and rules)
//	webkube dashboard [--kubeconfig PATH] [--context NAME]   (the dashboard alone, on any cluster)
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"webkube/runtime/images/samples/counter"
	"webkube/runtime/images/samples/echo"
	"webkube/runtime/images/samples/incluster"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "webkube:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

func run(args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "sample":
			// The built-in sample images run the webkube binary itself as their program.
			return runSample(args[1:])
		case "image":
			return runImage(args[1:])
		case "reset":
			return runReset(args[1:])
		case "dashboard":
			return runDashboard(args[1:])
		case "version":
			fmt.Println(versionString())
			return nil
		}
	}
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	m := &Main{Config: cfg, Logger: logger}
	if err := m.Run(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	logger.Info("shutting down")
	return m.Close()
}

func runSample(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("sample: want echo or counter")
	}
	switch args[0] {
	case "echo":
		return echo.Main(args[1:])
	case "counter":
		return counter.Main(args[1:])
	case "incluster":
		return incluster.Main(args[1:])
	}
	return fmt.Errorf("sample: unknown sample %q (want echo, counter or incluster)", args[0])
}
