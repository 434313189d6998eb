"""Speed, memory and quality measurements of the pipeline, each next to a baseline run on the same machine.

`python -m benchmarks fast` (`make bench`) and `python -m benchmarks quality` (`make bench-quality`)
write BENCHMARKS.md, benchmarks/results.json and PNG plots. See benchmarks/__main__.py for the options.
"""
