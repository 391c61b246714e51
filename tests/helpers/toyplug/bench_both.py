"""Bench the toy task and the toy family, through the API, in a process that sees the plugin only
through its entry points."""

import json
import sys

from reassembly import Benchmark
from reassembly.families import family_names
from reassembly.tasks import task_names


def main(out: str) -> None:
    toy = Benchmark(
        task="toysort",
        solvers=["toy-sort", "toy-sort[reverse=true]"],
        seeds=2,
        jobs=1,
        out=f"{out}/toy",
        task_options={"size": 6},
    ).run()
    tanh = Benchmark(
        solvers=["fast"],
        generator={"block": "tanh", "depth": 3, "width": 8, "hidden": 16, "rows": 300, "epochs": 3},
        seeds=1,
        jobs=1,
        out=f"{out}/tanh",
    ).run()
    print(
        json.dumps(
            {
                "tasks": task_names(),
                "families": list(family_names()),
                "toy": toy.frame[["variant", "status", "exact", "misplaced", "task", "error"]].to_dict("records"),
                "tanh": tanh.frame[["variant", "status", "family", "mse", "error"]].to_dict("records"),
            }
        )
    )


if __name__ == "__main__":  # solves run in worker processes, which import this module again
    main(sys.argv[1])
