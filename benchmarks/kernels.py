"""How fast is each FPELinear format, relative to the dense parent layer nn.Linear(d, h)?

The benchmark lives in satbench.kernels.bench (so that the installed package can run it too);
see its docstring for what is timed and how.

Run: python benchmarks/kernels.py [--quick] [--out results/bench-kernels] [--threads N]
"""

from satbench.kernels.bench import main

if __name__ == "__main__":
    main()
