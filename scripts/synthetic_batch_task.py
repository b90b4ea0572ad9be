#!/usr/bin/env python3
"""A synthetic Alibaba cluster-trace-v2017 batch_task.csv, for `tug sim --format alibaba`.

The real file (80,553 rows, one day of one production cluster) is behind a survey: see
https://github.com/alibaba/clusterdata/tree/master/cluster-trace-v2017 (README.md has the link,
schema.csv the columns). This script writes a file of the same schema and shape so that the loader
and the simulator can be exercised and timed without it. It is NOT the real trace: every number
below is an assumption, chosen to match what the issue reported about the real file (80,553 rows,
~11 % Waiting rows with empty plan_cpu/plan_mem, ~68k finished tasks, ~2,100 static nodes).

Columns (schema.csv, batch_task.csv fields 1-8), no header unless --header:
  create_timestamp, modify_timestamp, job_id, task_id, instance_num, status, plan_cpu, plan_mem

Shape:
  - jobs arrive over 24 h (seconds 1..86,400) at an hourly rate that peaks at night, each with a
    chain of 1-20 tasks (a DAG's stages) created one after another;
  - instance_num is heavy-tailed: a quarter of the tasks have one instance, the rest are
    LogNormal (median 22, sigma 1.6), cut at 50,000;
  - task lifetimes are LogNormal (median 100 s, sigma 1.3), at most 12 h;
  - plan_cpu is 50 or 100 for most tasks (100 per core), some 200-400; plan_mem is normalised
    (1.0 = the largest machine), 0.4 % to 6 %, in the trace's steps of 1/254;
  - status: 9,017 Waiting rows with empty plan_cpu and plan_mem and no end time; some Running,
    Ready and Cancelled rows; some Terminated rows created before the trace (time 0); ~4 %
    Failed; the rest Terminated.

Deterministic: the same --seed writes the same bytes.

  scripts/synthetic_batch_task.py -o batch_task.csv                  # published layout (LF)
  scripts/synthetic_batch_task.py --header --crlf -o batch_task.csv  # the circulating copy
"""
import argparse
import math
import random
import sys

DAY = 86_400
# Relative job arrivals per hour of the day (batch peaks at night, a smaller one mid-day).
HOUR_WEIGHTS = [1.6, 1.8, 1.9, 1.7, 1.4, 1.1, 0.9, 0.8, 0.8, 0.9, 1.0, 1.1,
                1.0, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.9, 1.0, 1.1, 1.3, 1.5]
HEADER = ("task_create_time,task_end_time,job_id,task_id,number_of_instances,status,plan_cpu,"
          "plan_mem")


def weighted(rng, pairs):
    r = rng.random() * sum(w for _, w in pairs)
    for value, w in pairs:
        r -= w
        if r < 0:
            return value
    return pairs[-1][0]


def instances(rng):
    if rng.random() < 0.25:
        return 1
    return max(2, min(50_000, int(round(rng.lognormvariate(math.log(22), 1.6)))))


def plan_cpu(rng):
    return weighted(rng, [(50, 0.36), (100, 0.50), (200, 0.08), (300, 0.03), (400, 0.03)])


def plan_mem(rng):
    steps = weighted(rng, [(1, 0.05), (2, 0.25), (3, 0.25), (4, 0.15), (5, 0.08), (6, 0.08),
                           (8, 0.07), (12, 0.04), (16, 0.03)])
    return f"{steps / 254:.4f}".rstrip("0")


def lifetime(rng):
    return max(1, min(12 * 3600, int(rng.lognormvariate(math.log(100), 1.3))))


def arrival(rng):
    hour = weighted(rng, list(enumerate(HOUR_WEIGHTS)))
    return 1 + hour * 3600 + rng.randrange(3600)


def generate(rows, waiting, seed):
    """Yields rows as lists of strings."""
    rng = random.Random(seed)
    # Which rows are not finished tasks; the rest are Terminated (or Failed).
    special = (["Waiting"] * waiting + ["Running"] * 1_480 + ["Cancelled"] * 620 +
               ["Ready"] * 290 + ["before"] * 1_209)
    if len(special) > rows:
        raise SystemExit("--rows is too small for the fixed numbers of special rows")
    kinds = special + ["finished"] * (rows - len(special))
    rng.shuffle(kinds)
    job_id = 1
    task_id = rng.randrange(1, 1000)
    i = 0
    while i < len(kinds):
        job_id += 1
        t = arrival(rng)
        for _ in range(min(len(kinds) - i, rng.randint(1, 11))):
            kind = kinds[i]
            i += 1
            task_id += 1
            n = instances(rng)
            life = lifetime(rng)
            create, modify = t, min(t + life, DAY + 12 * 3600)
            cpu, mem = str(plan_cpu(rng)), plan_mem(rng)
            if kind == "finished":
                status = "Failed" if rng.random() < 0.04 else "Terminated"
            elif kind == "before":
                status, create = "Terminated", 0
            elif kind == "Waiting":
                # Not initialised yet: the trace has no requests and no end for these.
                status, modify, cpu, mem = "Waiting", 0, "", ""
            elif kind == "Ready":
                status, modify = "Ready", 0
            else:
                status = kind
            yield [str(create), str(modify), str(job_id), str(task_id), str(n), status, cpu, mem]
            # The next stage starts when this one is partly done.
            t = min(DAY, t + int(life * rng.uniform(0.3, 1.0)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", default="-", help="file to write (default: stdout)")
    p.add_argument("--rows", type=int, default=80_553)
    p.add_argument("--waiting", type=int, default=9_017,
                   help="Waiting rows with empty plan_cpu and plan_mem")
    p.add_argument("--seed", type=int, default=2017)
    p.add_argument("--header", action="store_true", help="start with a header row")
    p.add_argument("--crlf", action="store_true", help="CRLF line ends")
    a = p.parse_args()
    nl = "\r\n" if a.crlf else "\n"
    out = sys.stdout if a.output == "-" else open(a.output, "w", newline="")
    with out:
        if a.header:
            out.write(HEADER + nl)
        for row in generate(a.rows, a.waiting, a.seed):
            out.write(",".join(row) + nl)


if __name__ == "__main__":
    main()
