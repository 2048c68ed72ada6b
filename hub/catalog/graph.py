"""The lineage graph held in memory: integer node ids, adjacency lists both ways, breadth-first walks.

Datasets and jobs share one id space. Edges are ``dataset -> job`` (the job reads it) and
``job -> dataset`` (the job writes it). The store keeps the graph in step with the ``edges`` table (it is
the only writer), so a depth-20 walk over a million edges costs a few dictionary lookups per node rather
than twenty SQL joins.

Depth counts jobs: from a dataset, depth 1 reaches the jobs next to it and the datasets those jobs
read/write; from a job, depth 1 reaches its own inputs/outputs.
"""

from __future__ import annotations

from collections import defaultdict

UPSTREAM, DOWNSTREAM, BOTH = "upstream", "downstream", "both"


class LineageGraph:
    def __init__(self):
        self.out: dict[int, list[int]] = defaultdict(list)
        self.inn: dict[int, list[int]] = defaultdict(list)
        self.edges = 0

    def add(self, src: int, dst: int) -> bool:
        """Add ``src -> dst``; False when it was already there."""
        targets = self.out[src]
        if dst in targets:
            return False
        targets.append(dst)
        self.inn[dst].append(src)
        self.edges += 1
        return True

    def has(self, src: int, dst: int) -> bool:
        return dst in self.out.get(src, ())

    def walk(self, start: int, max_distance: int, direction: str, max_nodes: int) -> tuple[set[int], bool]:
        """Nodes within ``max_distance`` edges of ``start`` following ``direction``; (nodes, truncated)."""
        seen = {start}
        truncated = False
        for adjacency in (
            (self.inn,) if direction == UPSTREAM else (self.out,) if direction == DOWNSTREAM else (self.inn, self.out)
        ):
            frontier = [start]
            for _ in range(max_distance):
                nxt = []
                for node in frontier:
                    for other in adjacency.get(node, ()):
                        if other not in seen:
                            if len(seen) >= max_nodes:
                                truncated = True
                                break
                            seen.add(other)
                            nxt.append(other)
                if not nxt:
                    break
                frontier = nxt
        return seen, truncated

    def induced_edges(self, nodes: set[int]) -> list[tuple[int, int]]:
        return [(a, b) for a in nodes for b in self.out.get(a, ()) if b in nodes]
