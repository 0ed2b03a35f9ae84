"""CSV import: UTF-8 and GBK, good rows imported, bad rows reported by line."""

from tests.factories import make_id_number, unique_phone
from volunteer_hub.volunteers.importer import import_volunteers
from volunteer_hub.volunteers.models import Volunteer

HEADER = "real_name,id_number,phone,community_code,grid_code,skills\n"


def _rows(tree, bad_checksum: str):
    good_1 = f"王小明,{make_id_number()},{unique_phone()},CA,CA-G1,first_aid:2;driving:1\n"
    bad = f"李错号,{bad_checksum},{unique_phone()},CA,,\n"
    unknown_community = f"赵无社区,{make_id_number()},{unique_phone()},NOPE,,\n"
    good_2 = f"陈好,{make_id_number(gender='female')},{unique_phone()},CB,,\n"
    return HEADER + good_1 + bad + unknown_community + good_2


def _bad_checksum():
    number = make_id_number()
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def test_good_rows_are_imported_and_bad_rows_reported_with_line_numbers(tree, db):
    report = import_volunteers(_rows(tree, _bad_checksum()).encode("utf-8"))
    assert (report.total, report.imported, report.encoding) == (4, 2, "utf-8")
    assert [(p.line, p.field) for p in report.problems] == [(3, "id_number"), (4, "community_id")]
    names = {v.real_name for v in db.session.query(Volunteer)}
    assert names == {"王小明", "陈好"}
    first = db.session.query(Volunteer).filter_by(real_name="王小明").one()
    assert {s.skill_code: s.level for s in first.skills} == {"first_aid": 2, "driving": 1}
    assert first.grid.code == "CA-G1" and first.status == "active"


def test_gbk_files_are_read(tree, db):
    text = HEADER + f"王小明,{make_id_number()},{unique_phone()},CA,,\n"
    report = import_volunteers(text.encode("gbk"))
    assert report.encoding == "gbk" and report.imported == 1
    assert db.session.query(Volunteer).one().real_name == "王小明"


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(tree, db):
    report = import_volunteers(_rows(tree, _bad_checksum()).encode("utf-8"), all_or_nothing=True)
    assert report.imported == 0 and len(report.problems) == 2
    assert db.session.query(Volunteer).count() == 0


def test_duplicate_id_inside_the_file_is_reported(tree, db):
    number = make_id_number()
    text = HEADER + f"甲,{number},{unique_phone()},CA,,\n乙,{number},{unique_phone()},CA,,\n"
    report = import_volunteers(text.encode())
    assert report.imported == 1
    assert report.problems[0].line == 3 and report.problems[0].field == "id_number"


def test_missing_columns_are_named(tree, db):
    report = import_volunteers("real_name,phone\n张三,13800138000\n".encode())
    assert report.problems[0].field == "header"
    assert "id_number" in report.problems[0].message


def test_the_command_prints_each_bad_row_and_exits_non_zero(app, tree, tmp_path, db):
    path = tmp_path / "volunteers.csv"
    path.write_bytes(_rows(tree, _bad_checksum()).encode("gbk"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["vh", "import", "volunteers", str(path)])
    assert "Imported 2 of 4 rows" in result.output
    assert "line 3: id_number" in result.output
    assert result.exit_code == 1
