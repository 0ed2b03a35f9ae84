"""Every table with a person column is exported or excluded with a reason."""
from volunteer_hub.db import db
from volunteer_hub.privacy.registry import EXCLUDED, SECTIONS, is_person_column


def test_every_person_table_is_exported_or_excluded_with_a_reason(app):
    declared = {section.table for section in SECTIONS}
    missing = []
    for table in db.metadata.sorted_tables:
        person_columns = [c.name for c in table.columns if is_person_column(c.name)]
        if person_columns and table.name not in declared and table.name not in EXCLUDED:
            missing.append(f"{table.name} ({', '.join(person_columns)})")
    assert not missing, ("Personal tables in neither privacy.registry.SECTIONS nor EXCLUDED: "
                         + "; ".join(missing))
    assert all(reason.strip() for reason in EXCLUDED.values())


def test_declared_sections_name_real_tables_and_columns(app):
    for section in SECTIONS:
        table = db.metadata.tables.get(section.table)
        assert table is not None, section.table
        for column in (section.column, *section.also, *section.decrypt.values(),
                       *section.clear_on_close):
            assert column in table.c, f"{section.table}.{column}"
    names = [section.name for section in SECTIONS]
    assert len(names) == len(set(names))
