package cli

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/allot/allot/bench"
)

func runBench(env *Env) error {
	fs := flags("bench", env)
	engine := fs.String("engine", "both", "sqlite, postgres or both")
	pg := fs.String("postgres", envOr("ALLOT_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"),
		"PostgreSQL server for the postgres runs and the baselines (a schema of its own is made and dropped)")
	scale := fs.Float64("scale", 1, "multiply the documented sizes (0.1 for a quick look)")
	clients := fs.Int("clients", 256, "flash sale: concurrent clients")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	alone := fs.Bool("no-baselines", false, "run allot alone")
	pos, err := parse(fs, env.Args)
	if err != nil {
		return err
	}
	scenario := "all"
	if len(pos) == 1 {
		scenario = pos[0]
	} else if len(pos) > 1 {
		return usagef("name one scenario: flash, catalogue (steady orders, full stock report, recompute), fanout or all")
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	engines := []string{*engine}
	if *engine == "both" {
		engines = []string{"sqlite", "postgres"}
	}
	dir, err := os.MkdirTemp("", "allot-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	host, _ := os.Hostname()
	fmt.Fprintf(env.Stdout, "allot bench on %s: %s, %d CPUs, %s\n", host, runtime.Version(), runtime.NumCPU(), runtime.GOARCH)
	for _, e := range engines {
		cfg := bench.Config{Engine: e, Postgres: *pg, Dir: dir, Scale: *scale, Out: env.Stdout, SkipBaselines: *alone}
		if err := bench.Run(env.Context, cfg, scenario, *clients); err != nil {
			return err
		}
	}
	return nil
}
