"""Forms of the national-record pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField

from volunteer_hub.accounts.forms import opts

FORMAT_CHOICES = opts([("csv", _l("CSV files (ZIP, opens in Excel)")), ("json", _l("JSON"))])


class ExportForm(FlaskForm):
    class Meta:
        csrf = False  # a download (GET): nothing changes

    org_id = SelectField(_l("Organization"), coerce=int)
    format = SelectField(_l("File format"), choices=FORMAT_CHOICES, default="csv")


class NumbersForm(FlaskForm):
    file = FileField(_l("CSV with 本系统编号 and 志愿者编号"), validators=[FileRequired()])
