"""``civicloop bench queries`` at a tiny size on chDB: the synthetic projections look like a
city hotline, and every query is timed with the rows it scanned. No timing thresholds."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from civicloop.cli import bench
from civicloop.projections.backend import open_store
from civicloop.projections.metrics import rollup
from civicloop.projections.metrics.closed_loop import metrics
from civicloop.projections.metrics.sql import DURATIONS
from civicloop.tools.bench import queries
from civicloop.tools.bench.stores import Backend

CASES = 2_000


def test_synthetic_projections_have_the_hotline_shape(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path / 'chdb'}")
    try:
        # given synthetic projections of 2,000 cases
        queries.build(store, "synth", CASES)
        # then every case has one row, spread over the dimensions the metrics group by
        ((cases, departments, categories, districts, grids, channels, closed, feedback),) = store.query(
            "SELECT count(), uniqExact(lead_department), uniqExact(category), uniqExact(district), "
            "uniqExact(grid_id), uniqExact(channel), countIf(closed_at IS NOT NULL), "
            "countIf(feedback_at IS NOT NULL) FROM synth.case_lifecycle FINAL"
        )
        assert (cases, departments, categories, districts, channels) == (CASES, 14, 40, 10, 8)
        assert grids > 150  # 200 possible; a few may be empty at this size
        assert 0.80 < closed / cases < 0.92 and 0.5 < feedback / closed < 0.7
        ((tasks, extra),) = store.query(
            "SELECT count(), countIf(role = 'assist' OR status = 'returned') FROM synth.case_tasks FINAL"
        )
        assert 0.1 < extra / cases < 0.3 and tasks > cases * 1.1
        # and the metrics read them like real projections
        rows = metrics(store.query, "synth", "department", now=queries.NOW)
        assert len(rows) == 14 and all(r["closure_rate"] is not None for r in rows)
    finally:
        store.close()


def test_a_decade_of_synthetic_cases_merged_reads_the_same_month_as_unpruned_and_all_time_as_unrolled(
    tmp_path: Path,
) -> None:
    store = open_store(f"chdb://{tmp_path / 'chdb'}")
    try:
        # given 2,000 synthetic cases over ten years, each month's parts merged into one
        queries.build(store, "decade", CASES, merged=True, years=10)
        ((first, last, months, parts),) = store.query(
            "SELECT min(reported_at), max(reported_at), uniqExact(toYYYYMM(reported_at)), "
            "(SELECT count() FROM system.parts WHERE active AND database = 'decade' "
            "AND table = 'case_lifecycle') FROM decade.case_lifecycle"
        )
        assert first.year == 2016 and last.year == 2025 and months == parts == 120
        # then a month's metrics, which read only the months its spans name, are those of the
        # same query over every month (the spans left out: a period then reads everything)
        month = queries.MONTH
        pruned = metrics(store.query, "decade", "department", *month, now=queries.NOW)
        store.command("DROP TABLE decade.period_spans")
        assert pruned == metrics(store.query, "decade", "department", *month, now=queries.NOW)
        assert sum(r["reported"] for r in pruned) > 0
        # and all time summed from the rollup is all time counted from the tables (the rollup
        # left out, as in a deployment made before it)
        rolled = {dim: metrics(store.query, "decade", dim, now=queries.NOW) for dim in ("grid", "all")}
        store.command("DROP TABLE decade.metric_rollup")
        assert rolled == {dim: metrics(store.query, "decade", dim, now=queries.NOW) for dim in rolled}
        assert rolled["all"][0]["reported"] == CASES
    finally:
        store.close()


def test_bench_queries_times_every_query_with_the_rows_it_scanned() -> None:
    # when the benchmark runs on 2,000 cases in chDB
    result = queries.run(CASES, Backend.chdb, rounds=1).as_dict()
    # then every query has a positive time and the rows it read, and the total is reported
    figures = result["figures"]
    timed = set(queries.queries("db")) | {queries.ROLLUP_MONTH}  # that one needs a store
    assert timed <= set(figures)
    assert all(f["seconds"] > 0 and f["rows"] >= CASES and f["rows_per_s"] > 0 for f in figures.values())
    # and the durations read each table once (not once per duration), as a month's metrics do;
    # all time reads the rollup and the case table, not the task table
    rows = result["notes"]["table_rows"]
    both = rows["case_lifecycle"] + rows["case_tasks"]
    assert figures["durations_department"]["rows"] == figures["metrics_department_month"]["rows"] == both
    rolled = rows["metric_rollup"]
    assert figures["metrics_department_all"]["rows"] == rows["case_lifecycle"] + 2 * rolled
    # and one month counted again into the rollup reads that month of both tables, and of the
    # case table once more for its open cases (settled.py)
    assert figures[queries.ROLLUP_MONTH]["rows"] == both + rows["case_lifecycle"]
    assert result["notes"]["one_dimension_total_ms"] > 0
    assert all(r > 0 for r in result["ratios"].values())
    # and the profile times each statement of one dimension with and without FINAL: metrics
    # (the rollup's latest snapshots, their sums, the case table), durations (one statement
    # per table) and backlog (the open cases' latest snapshots, those of the settled months,
    # the other months of the case table) make eight
    profile = set(figures) - timed
    statements = {f"statement_{i}" for i in range(1, 9)}
    assert profile == statements | {f"{s}_no_final" for s in statements} | {
        queries.ONE_QUANTILE,
        queries.ONE_COUNT,
    }
    # with report_to_close in the metrics, and each duration's wall and working quantiles
    assert result["notes"]["one_dimension_exact_quantiles"] == 1 + 2 * len(DURATIONS)
    # and what they add is read off the profile: one quantile less the same GROUP BY counting
    one = (figures[queries.ONE_QUANTILE]["seconds"] - figures[queries.ONE_COUNT]["seconds"]) * 1000
    added = result["notes"]["one_dimension_exact_quantiles_add_ms"]
    assert abs(added - (1 + 2 * len(DURATIONS)) * max(0.0, one)) < 2  # seconds are rounded to 0.1 ms


def test_bench_lists_the_end_to_end_commands() -> None:
    app = typer.Typer()
    bench.register(app)
    result = CliRunner().invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in ("replay", "live", "queries"))


def test_a_kept_build_is_reused_with_a_table_added_since_laid_out_and_counted(tmp_path: Path) -> None:
    # given 300 synthetic cases built into a kept directory, and then a table of the rollup
    # gone (as a build made before the table was added) and a mark left in the database
    with queries.built("queries", Backend.chdb, 300, keep=tmp_path / "kept") as made:
        db = made.db
        made.store.command(f"DROP TABLE {db}.backlog_rollup")
        made.store.command(f"CREATE TABLE {db}.mark (x UInt8) ENGINE = Log")
    # when a run asks for the same build
    with queries.built("queries", Backend.chdb, 300, keep=tmp_path / "kept") as again:
        # then it is the same database, not generated again, with the table back and counted
        assert again.db == db
        tables = {
            str(t) for (t,) in again.store.query(f"SELECT name FROM system.tables WHERE database = '{db}'")
        }
        assert {"mark", "backlog_rollup"} <= tables
        assert not rollup.stale(again.store.query, db)
