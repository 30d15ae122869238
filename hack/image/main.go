// Command verify-image checks what can be checked of faas-kubelet's image
// on a machine without a container engine: the Dockerfile parses as
// BuildKit parses it, its final stage runs the binary as a non-root user,
// its build is static (CGO_ENABLED=0), and a binary built that way has no
// dynamic loader (it runs on a distroless/static base).
//
//	go run . -dockerfile ../../Dockerfile -binary /tmp/faas-kubelet
package main

import (
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func main() {
	dockerfile := flag.String("dockerfile", "Dockerfile", "the Dockerfile to check")
	binary := flag.String("binary", "", "a binary built as the Dockerfile builds it, to check it is static")
	flag.Parse()
	var problems []string
	if err := checkDockerfile(*dockerfile); err != nil {
		problems = append(problems, err.Error())
	}
	if *binary != "" {
		if err := checkStatic(*binary); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		fmt.Fprintln(os.Stderr, strings.Join(problems, "\n"))
		os.Exit(1)
	}
	fmt.Printf("%s: parses; final stage non-root; static build\n", *dockerfile)
	if *binary != "" {
		fmt.Printf("%s: static ELF (no dynamic loader)\n", *binary)
	}
}

func checkDockerfile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	stages, _, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(stages) < 2 {
		return fmt.Errorf("%s: want a build stage and a runtime stage, got %d stage(s)", path, len(stages))
	}
	var errs []error
	static := false
	for _, cmd := range stages[0].Commands {
		if run, ok := cmd.(*instructions.RunCommand); ok && strings.Contains(strings.Join(run.CmdLine, " "), "CGO_ENABLED=0") {
			static = true
		}
	}
	if !static {
		errs = append(errs, fmt.Errorf("%s: the build stage does not build with CGO_ENABLED=0", path))
	}
	final := stages[len(stages)-1]
	user, entry := "", false
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entry = len(c.CmdLine) > 0
		}
	}
	if user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") {
		errs = append(errs, fmt.Errorf("%s: the final stage runs as %q, want a non-root USER", path, user))
	}
	if !entry {
		errs = append(errs, fmt.Errorf("%s: the final stage has no ENTRYPOINT", path))
	}
	return errors.Join(errs...)
}

func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s: dynamically linked (%s): it would not run on a static base image", path, p.Type)
		}
	}
	return nil
}
