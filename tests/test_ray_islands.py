"""The Ray backend: a search across a two-node Ray cluster (both nodes on this machine,
Ray's own test utilities) loses one node mid-run, restarts the island that was there on the
node that is left, and finishes with a valid event log and checkpoint."""
from __future__ import annotations

# Not importorskip: the test extra installs ray (.ci/run checks it), so a missing ray is a failure.
from ray.cluster_utils import Cluster

from test_async_islands import (assert_log_and_checkpoint_valid, async_config, events,
                                progress_reached)
from test_hostile_rundir import _start, _wait


def test_a_search_across_two_ray_nodes_survives_losing_one(tmp_path):
    # The head has room for the island that comes back; SPREAD puts one island on each node.
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    worker_node = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    out = tmp_path / "run"
    proc = None
    try:
        proc = _start(["search", async_config(tmp_path, one_long_experiment=True, worker_timeout=30), "--out", out,
                       "--plain", "--seed", 5, "--workers", 2, "--backend", "ray",
                       "--address", cluster.address, "--checkpoint-every", 0.5,
                       "--max-individuals", 120_000])
        assert _wait(lambda: progress_reached(out, 5000) or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.communicate()
        cluster.remove_node(worker_node)
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
        cluster.shutdown()
    log = events(out)
    kinds = [e["event"] for e in log]
    assert "island_lost" in kinds and "island_restarted" in kinds, kinds
    lost = log[kinds.index("island_lost")]
    assert "Ray actor" in lost["reason"]
    after = log[kinds.index("island_restarted"):]
    assert any(e["event"] == "progress" for e in after)
    assert log[-1]["individuals"] >= 120_000
    assert_log_and_checkpoint_valid(out)
