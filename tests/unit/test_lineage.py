"""OpenLineage datasets from what a run recorded: names, namespaces, facets (no listener, no server)."""

from __future__ import annotations

from sparkify.lineage import MAX_LISTED_OBJECTS, Lineage, TableUse, operator_lineage, tables_read


class Engine:
    name = "redshift"

    def lineage_location(self):
        return "redshift://dwh.us-west-2:5439", "dev"


def test_tables_read_by_a_load_select_with_bound_parameters():
    sql = (
        "SELECT e.ts FROM staging_events AS e LEFT JOIN staging_songs AS s ON e.song = s.title "
        "WHERE e.ts >= %(data_interval_start)s AND e.ts < %(data_interval_end)s"
    )
    assert [(u.schema, u.table) for u in tables_read(sql, "redshift")] == [
        ("public", "staging_events"),
        ("public", "staging_songs"),
    ]
    read = tables_read('SELECT 1 FROM analytics.x JOIN "time" t ON 1=1', "postgres")
    assert sorted((u.schema, u.table) for u in read) == [("analytics", "x"), ("public", "time")]


def test_objects_read_are_listed_up_to_a_limit_then_their_location_stands_for_them():
    lineage = Lineage()
    lineage.read_objects("b", ["log_data/2018/11/2018-11-15-events.json"], ["log_data/2018/11/2018-11-15-events.json"])
    assert lineage.s3_inputs == [("b", "log_data/2018/11/2018-11-15-events.json")]
    keys = [f"song_data/A/{i}.json" for i in range(MAX_LISTED_OBJECTS + 1)]
    lineage.read_objects("b", keys, ["song_data/"])
    assert lineage.s3_inputs == [("b", "song_data/")]


def test_datasets_follow_openlineage_naming_with_schema_statistics_and_assertions():
    lineage = Lineage(
        Engine(),
        inputs=[
            TableUse(
                "songplays",
                assertions=[
                    {
                        "assertion": "unique: songplays(songplay_id)",
                        "success": False,
                        "column": "songplay_id",
                        "actual": "2",
                        "expected": "== 0",
                    }
                ],
            )
        ],
        outputs=[TableUse("top_songs", "analytics", columns=[("song_id", "character varying")], rows=20)],
        s3_inputs=[("sparkify", "log_data/2018/11/2018-11-15-events.json")],
        s3_outputs=[("sparkify", "reports/latest.html")],
    )
    result = operator_lineage(lineage)
    assert [(d.namespace, d.name) for d in result.inputs] == [
        ("redshift://dwh.us-west-2:5439", "dev.public.songplays"),
        ("s3://sparkify", "log_data/2018/11/2018-11-15-events.json"),
    ]
    assertion = result.inputs[0].facets["dataQualityAssertions"].assertions[0]
    assert (assertion.assertion, assertion.success, assertion.actual) == ("unique: songplays(songplay_id)", False, "2")
    out = result.outputs[0]
    assert (out.namespace, out.name) == ("redshift://dwh.us-west-2:5439", "dev.analytics.top_songs")
    assert out.outputFacets["outputStatistics"].rowCount == 20
    assert [(f.name, f.type) for f in out.facets["schema"].fields] == [("song_id", "character varying")]
    assert (result.outputs[1].namespace, result.outputs[1].name) == ("s3://sparkify", "reports/latest.html")


def test_nothing_recorded_is_empty_lineage():
    assert operator_lineage(None).inputs == []


def test_tables_of_recorded_queries_are_inputs_parsed_only_for_lineage():
    lineage = Lineage(Engine(), queries=["SELECT * FROM songplays JOIN users USING (user_id)"])
    assert sorted(d.name for d in operator_lineage(lineage).inputs) == ["dev.public.songplays", "dev.public.users"]
