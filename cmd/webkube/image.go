package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	wkcontainerd "webkube/runtime/containerd"
	"webkube/runtime/images"
)

// runImage talks to the containerd of a running webkube (or --containerd) to import and
// list images, so a learner can bring images in without a registry.
func runImage(args []string) error {
	fs := flag.NewFlagSet("webkube image", flag.ContinueOnError)
	dataDir := fs.String("data-dir", "./webkube-data", "data dir of the running webkube")
	address := fs.String("containerd", "", "containerd address (default: the one webkube started under --data-dir)")
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: webkube image import FILE... | webkube image ls")
		return errUsage
	}
	verb := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	addr := *address
	if addr == "" {
		abs, err := filepath.Abs(*dataDir)
		if err != nil {
			return err
		}
		addr = filepath.Join(abs, "containerd", "containerd.sock")
	}
	ctx := context.Background()
	client, err := wkcontainerd.Connect(ctx, addr, wkcontainerd.Namespace)
	if err != nil {
		return fmt.Errorf("is webkube running with --data-dir %s? %w", *dataDir, err)
	}
	defer client.Close()
	svc, err := images.NewService(images.Config{Client: client})
	if err != nil {
		return err
	}
	switch verb {
	case "import":
		if fs.NArg() == 0 {
			return fmt.Errorf("image import: name at least one tar file (docker save or OCI layout)")
		}
		for _, file := range fs.Args() {
			f, err := os.Open(file)
			if err != nil {
				return err
			}
			names, err := svc.Import(ctx, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("import %s: %w", file, err)
			}
			for _, n := range names {
				fmt.Println("imported", n)
			}
		}
		return nil
	case "ls", "list":
		list, err := svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSIZE\tBUILT-IN")
		for _, i := range list {
			fmt.Fprintf(tw, "%s\t%d\t%v\n", i.Name, i.Size, i.Builtin)
		}
		return tw.Flush()
	}
	return fmt.Errorf("image: unknown command %q (want import or ls)", verb)
}
