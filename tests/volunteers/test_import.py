"""CSV import (issue 16 item 5): registration's rules, the file's own column names in the
reader's language, Chinese headers, Excel's encodings, exit codes and progress."""
from __future__ import annotations

from datetime import date

from flask_babel import force_locale

from tests.factories import make_id_number, unique_phone
from volunteer_hub.volunteers.importer import import_volunteers
from volunteer_hub.volunteers.models import Volunteer

HEADER = "real_name,id_number,phone,community_code,grid_code,skills\n"
CHINESE_HEADER = "姓名,身份证号码,手机号,社区编码,性别,出生日期\n"


def _rows(tree, bad_checksum: str):
    good_1 = f"王小明,{make_id_number()},{unique_phone()},CA,CA-G1,first_aid:2;driving:1\n"
    bad = f"李错号,{bad_checksum},{unique_phone()},CA,,\n"
    unknown_community = f"赵无社区,{make_id_number()},{unique_phone()},NOPE,,\n"
    good_2 = f"陈好,{make_id_number(gender='female')},{unique_phone()},CB,,\n"
    return HEADER + good_1 + bad + unknown_community + good_2


def _bad_checksum():
    number = make_id_number()
    return number[:-1] + ("1" if number[-1] != "1" else "2")


def test_good_rows_are_imported_and_bad_rows_reported_by_the_files_columns(tree, db):
    report = import_volunteers(_rows(tree, _bad_checksum()).encode("utf-8"))
    assert (report.total, report.imported, report.encoding) == (4, 2, "utf-8")
    # the unknown community is named by the file's column, not the internal community_id
    assert [(p.line, p.field) for p in report.problems] == [(3, "id_number"),
                                                            (4, "community_code")]
    names = {v.real_name for v in db.session.query(Volunteer)}
    assert names == {"王小明", "陈好"}
    first = db.session.query(Volunteer).filter_by(real_name="王小明").one()
    assert {s.skill_code: s.level for s in first.skills} == {"first_aid": 2, "driving": 1}
    assert first.grid.code == "CA-G1" and first.status == "active"
    assert report.exit_code == 2


def test_an_empty_real_name_is_refused_like_the_api_refuses_it(app, tree, db):
    text = HEADER + f"  ,{make_id_number()},{unique_phone()},CA,,\n"
    with app.test_request_context(), force_locale("zh_Hans"):
        report = import_volunteers(text.encode())
    assert report.imported == 0 and report.exit_code == 1
    assert [(p.line, p.field) for p in report.problems] == [(2, "real_name")]
    assert report.problems[0].message == "缺少必填字段。"
    assert db.session.query(Volunteer).count() == 0


def test_chinese_headers_of_a_street_office_sheet_are_understood(app, tree, db):
    text = "姓名*,身份证号码（必填）,手机号码,社区编码,性别,出生日期\n" \
        f"刘芳,{make_id_number(gender='female', birth=date(1985, 3, 9))},{unique_phone()}," \
        "CB,女,1985/3/9\n"
    report = import_volunteers(text.encode("utf-8"))
    assert report.problems == [] and report.imported == 1
    volunteer = db.session.query(Volunteer).one()
    assert (volunteer.real_name, volunteer.gender, volunteer.birth_date) == \
        ("刘芳", "female", date(1985, 3, 9))


def test_a_bad_date_is_told_in_words_under_the_files_own_column(app, tree, db):
    text = CHINESE_HEADER + f"周明,{make_id_number()},{unique_phone()},CB,男,1990-13-01\n"
    with app.test_request_context(), force_locale("zh_Hans"):
        report = import_volunteers(text.encode("gbk"))
        problem = report.problems[0]
        assert (problem.line, problem.field) == (2, "出生日期")
        assert problem.message == "月份须在1-12之间。"
        assert "1..12" not in problem.message
    with app.test_request_context(), force_locale("en"):
        report = import_volunteers(text.replace("1990-13-01", "1990-02-30").encode("gbk"))
        assert report.problems[0].message == "That day does not exist in that month."


def test_an_unknown_community_is_named_by_the_column_in_chinese(app, tree, db):
    text = CHINESE_HEADER + f"吴刚,{make_id_number()},{unique_phone()},XX,男,\n"
    with app.test_request_context(), force_locale("zh_Hans"):
        report = import_volunteers(text.encode())
        assert report.problems[0].field == "社区编码"
        assert report.problems[0].message == "未知编码：XX。"


def test_utf16_tab_separated_unicode_text_from_excel(tree, db):
    text = CHINESE_HEADER.replace(",", "\t") + \
        f"钱多多\t{make_id_number()}\t{unique_phone()}\tCB\t男\t1990-05-17\r\n"
    report = import_volunteers(text.encode("utf-16"))  # with its BOM, as Excel writes it
    assert report.encoding == "utf-16" and report.imported == 1, report.problems
    assert db.session.query(Volunteer).one().real_name == "钱多多"


def test_utf8_with_bom_and_gbk_files_are_read(tree, db):
    first = HEADER + f"王小明,{make_id_number()},{unique_phone()},CA,,\n"
    report = import_volunteers(first.encode("utf-8-sig"))
    assert report.encoding == "utf-8-sig" and report.imported == 1
    second = HEADER + f"王小红,{make_id_number(gender='female')},{unique_phone()},CA,,\n"
    report = import_volunteers(second.encode("gbk"))
    assert report.encoding == "gbk" and report.imported == 1
    assert {v.real_name for v in db.session.query(Volunteer)} == {"王小明", "王小红"}


def test_gcj02_coordinates_are_stored_as_wgs84(tree, db):
    # wandergis/coordtransform test/app.js: wgs84togcj02(116.404, 39.915)
    # = [116.41024449916938, 39.91640428150164]
    text = "姓名,身份证号,手机号,社区编码,纬度,经度,坐标系\n" \
        f"孙悟,{make_id_number()},{unique_phone()},CB,39.91640428150164,116.41024449916938,gcj02\n"
    report = import_volunteers(text.encode())
    assert report.imported == 1, report.problems
    volunteer = db.session.query(Volunteer).one()
    assert abs(volunteer.lat - 39.915) < 1e-6 and abs(volunteer.lon - 116.404) < 1e-6


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(tree, db):
    report = import_volunteers(_rows(tree, _bad_checksum()).encode("utf-8"), all_or_nothing=True)
    assert report.imported == 0 and len(report.problems) == 2 and report.exit_code == 1
    assert db.session.query(Volunteer).count() == 0


def test_duplicate_id_inside_the_file_is_reported(tree, db):
    number = make_id_number()
    text = HEADER + f"甲,{number},{unique_phone()},CA,,\n乙,{number},{unique_phone()},CA,,\n"
    report = import_volunteers(text.encode())
    assert report.imported == 1
    assert report.problems[0].line == 3 and report.problems[0].field == "id_number"


def test_missing_columns_are_named(app, tree, db):
    with app.test_request_context(), force_locale("zh_Hans"):
        report = import_volunteers("real_name,phone\n张三,13800138000\n".encode())
    assert report.problems[0].field == "表头"  # the reader's language, not "header"
    assert "id_number" in report.problems[0].message and report.exit_code == 1


def _run(app, path, *args):
    return app.test_cli_runner().invoke(args=["vh", "import", "volunteers", str(path), *args])


def test_the_command_exits_2_on_a_partial_success_and_names_each_bad_row(app, tree, tmp_path,
                                                                         db):
    path = tmp_path / "volunteers.csv"
    path.write_bytes(_rows(tree, _bad_checksum()).encode("gbk"))
    result = _run(app, path, "--lang", "en")
    assert "Imported 2 of 4 rows" in result.output
    assert "line 3: id_number" in result.stderr
    assert result.exit_code == 2


def test_the_command_speaks_chinese_by_default_and_exits_1_when_nothing_was_imported(
        app, tree, tmp_path, db):
    path = tmp_path / "volunteers.csv"
    path.write_bytes((CHINESE_HEADER + f",{make_id_number()},{unique_phone()},CB,,\n")
                     .encode("utf-8"))
    result = _run(app, path)
    assert result.exit_code == 1
    assert "导入 0 / 1 行" in result.output
    assert "第 2 行：姓名：缺少必填字段。" in result.stderr


def test_the_command_exits_0_and_reports_progress_on_a_long_file(app, tree, tmp_path, db):
    rows = "".join(f"志愿者{i},{make_id_number(sequence=i * 2 + 1)},{unique_phone()},CB,,\n"
                   for i in range(7))
    path = tmp_path / "volunteers.csv"
    path.write_bytes((HEADER + rows).encode())
    result = _run(app, path, "--progress-every", "3")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if "/" in line] == \
        ["3/7", "6/7", "7/7"]


def test_a_minor_needs_the_guardian_columns_like_the_api_asks(app, tree, db):
    from datetime import timedelta

    birth = date.today().replace(month=1, day=1) - timedelta(days=365 * 16)
    number = make_id_number(birth=birth)
    header = "姓名,身份证号,手机号,社区编码,监护人姓名,监护人电话,监护人关系\n"
    without = header + f"小明,{number},{unique_phone()},CB,,,\n"
    with app.test_request_context(), force_locale("zh_Hans"):
        report = import_volunteers(without.encode())
        assert [(p.line, p.field) for p in report.problems] == [(2, "监护人姓名")]
    with_guardian = header + f"小明,{number},{unique_phone()},CB,王芳,{unique_phone()},母亲\n"
    report = import_volunteers(with_guardian.encode())
    assert report.imported == 1, report.problems


def test_an_excel_workbook_or_undecodable_file_is_a_clear_problem_not_a_traceback(
        app, tree, tmp_path, db):
    import io
    import zipfile

    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:  # what an .xlsx file is
        archive.writestr("xl/workbook.xml", "<workbook/>")
    with force_locale("zh_Hans"):
        report = import_volunteers(workbook.getvalue())
    assert report.exit_code == 1 and report.imported == 0
    [problem] = report.problems
    assert problem.line == 1 and "Excel" in problem.message and "CSV" in problem.message
    path = tmp_path / "volunteers.txt"
    path.write_bytes(bytes(range(256)))  # neither UTF-8, GBK nor UTF-16 with a BOM
    result = _run(app, path, "--lang", "en")
    assert result.exit_code == 1
    assert "line 1: File: The file is not text in UTF-8, GBK or UTF-16" in result.stderr
    assert "Traceback" not in result.output + result.stderr
