"""bench run: configurations, the per-configuration process, the table and the results file."""

from __future__ import annotations

import json

import pytest

from vidtrace.bench.run import (
    COLUMNS,
    breakdown,
    expand_configs,
    load_bench,
    make_config,
    parse_config,
    run_benchmark,
    table_header,
    table_row,
)
from vidtrace.errors import ConfigError


def test_parse_config_splits_library_and_search_settings():
    c = parse_config('fast={"fps": 1, "index": "hnsw", "aligner": "hv", "variants": ["flip"], "k": 8}')
    assert c.name == "fast"
    assert c.library == {"fps": 1, "index": {"name": "hnsw"}}
    assert c.search == {"aligner": "hv", "variants": ["flip"], "k": 8}
    assert parse_config("plain=").library == {} and parse_config("plain={}").search == {}


@pytest.mark.parametrize("text, message", [
    ("noequals", "expected NAME=JSON"),
    ("x={bad json", "not valid JSON"),
    ('x=["list"]', "expected a JSON object"),
    ('x={"colour": 1}', "unknown key 'colour'"),
    ('x={"k": 0}', "k must be >= 1"),
    ('x={"feature": "nosuchfeature"}', "x:"),
])
def test_bad_configs_are_one_line_config_errors(text, message):
    with pytest.raises(ConfigError, match=message) as info:
        parse_config(text)
    assert "\n" not in str(info.value)


def test_expand_configs_with_aligners():
    assert [c.name for c in expand_configs([])] == ["default"]
    plain = expand_configs([], ["tn", "hv", "dp", "dtw"])
    assert [c.name for c in plain] == ["tn", "hv", "dp", "dtw"]
    assert [c.search["aligner"] for c in plain] == ["tn", "hv", "dp", "dtw"]
    named = expand_configs([make_config("slow", {"fps": 1})], ["tn", "hv"])
    assert [c.name for c in named] == ["slow-tn", "slow-hv"] and named[1].library == {"fps": 1}
    with pytest.raises(ConfigError, match="used twice"):
        expand_configs([make_config("a", {}), make_config("a", {"k": 4})])


def test_table_row_formats_every_column():
    result = {"config": "x", "segment_uap": 0.5, "pair_uap": 0.25, "vcsl_best_f1": 0.75, "index_speed": 12.34,
              "query_p50_s": 0.1234, "query_p95_s": 0.5, "bytes_per_frame": 412.4, "peak_rss_mb": 200.06}
    assert table_row(result) == "| x | 0.500 | 0.250 | 0.750 | 12.3 | 0.123 | 0.500 | 412 | 200.1 |"
    header, rule = table_header().splitlines()
    assert header.count("|") == rule.count("|") == len(COLUMNS) + 1
    assert table_row({"config": "y", "error": "boom"}).count("|") == len(COLUMNS) + 1


def test_load_bench_names_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="no manifest.json"):
        load_bench(tmp_path)


def test_run_gives_one_full_row_and_a_results_file(tiny_bench, tmp_path):
    lines: list[str] = []
    out = tmp_path / "results.json"
    doc = run_benchmark(tiny_bench, expand_configs([]), json_out=out, emit=lines.append)
    assert len(lines) == 3  # header, rule, one row
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert len(cells) == len(COLUMNS) and cells[0] == "default"
    assert all(c not in ("", "n/a") and "error" not in c for c in cells), lines[2]
    for cell in cells[1:]:
        float(cell)
    saved = json.loads(out.read_text())
    assert saved["results"] == doc["results"]
    result = saved["results"][0]
    for key in ("segment_uap", "pair_uap", "vcsl_best_f1", "index_speed", "query_p50_s", "query_p95_s",
                "bytes_per_frame", "peak_rss_mb", "retrieval_map"):
        assert isinstance(result[key], float), key
    assert 0.0 <= result["segment_uap"] <= 1.0 and result["peak_rss_mb"] > 10
    assert len(result["latencies_s"]) == saved["queries"] and not result["query_errors"]
    assert (tmp_path / "results" / "default.csv").is_file()
    recall = result["breakdown"]["recall"]
    assert recall and all(0 <= v["found"] <= v["segments"] for v in recall.values())
    assert set(result["breakdown"]["false_alarm_queries"]) <= {"negative", "hard_negative"}
    assert saved["machine"]["cpus"] >= 1


def test_breakdown_counts_found_segments_and_false_alarms():
    from vidtrace.types import MatchRow

    seg = {"copy": 0, "ref": "r", "query_start": 1.0, "query_end": 3.0, "ref_start": 0.0, "ref_end": 2.0}
    copy = {"copy": 0, "transforms": [{"family": "temporal", "name": "speed", "strength": "weak"}]}
    manifest = {"queries": [
        {"id": "a", "kind": "copy", "segments": [seg], "pieces": [{"kind": "copy", "copies": [copy]}]},
        {"id": "n", "kind": "negative", "segments": [], "pieces": []},
    ]}
    hit = MatchRow("a", "r", 2.0, 2.5, 1.0, 1.5, 0.9)
    alarm = MatchRow("n", "r", 0.0, 1.0, 0.0, 1.0, 0.4)
    got = breakdown(manifest, [hit, alarm], 0.5)
    assert got["recall"]["temporal:weak"] == {"found": 1, "segments": 1}
    assert got["recall"]["temporal:speed:weak"] == {"found": 1, "segments": 1}
    assert got["false_alarm_queries"] == {"negative": {"alarmed": 0, "queries": 1}}
    assert breakdown(manifest, [alarm], None)["false_alarm_queries"]["negative"]["alarmed"] == 1
    assert breakdown(manifest, [MatchRow("a", "x", 2.0, 2.5, 1.0, 1.5, 0.9)], None)["recall"]["temporal:weak"]["found"] == 0
