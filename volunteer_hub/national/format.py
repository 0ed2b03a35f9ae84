"""The national-record exchange format, version by version (docs/national-record-format.md).

One place names every field, its Chinese column header and the section it belongs to, so
the JSON keys, the CSV headers and the import of national numbers cannot drift apart. A
change that renames, removes or reinterprets a field is a new FORMAT_VERSION; adding a field
at the end of a section is a minor version.
"""
from __future__ import annotations

FORMAT_NAME = "volunteer-hub/national-record"
FORMAT_VERSION = "1.0"

# MCA Order No. 67 (2020) Art. 4: basic information, service, training, awards, evaluations.
SECTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "volunteers": (
        ("national_number", "志愿者编号"),
        ("volunteer_number", "本系统编号"),
        ("name", "姓名"),
        ("gender", "性别"),
        ("birth_date", "出生日期"),
        ("id_type", "证件类型"),
        ("id_number", "证件号码"),
        ("id_number_masked", "证件号码是否脱敏"),
        ("phone", "联系电话"),
        ("area", "居住区域"),
        ("skills", "专业技能"),
        ("service_hours", "累计服务时长（小时）"),
    ),
    "service": (
        ("record_id", "记录编号"),
        ("national_number", "志愿者编号"),
        ("volunteer_number", "本系统编号"),
        ("activity_name", "活动名称"),
        ("service_type", "服务类别"),
        ("service_date", "服务日期"),
        ("start", "开始时间"),
        ("end", "结束时间"),
        ("place", "服务地点"),
        ("content", "服务内容"),
        ("hours", "服务时长（小时）"),
        ("organiser", "组织单位"),
        ("organiser_code", "组织单位编码"),
        ("lead", "活动负责人"),
        ("verified_at", "记录确认时间"),
    ),
    "training": (
        ("national_number", "志愿者编号"),
        ("volunteer_number", "本系统编号"),
        ("title", "培训名称"),
        ("content", "培训内容"),
        ("hours", "培训时长（小时）"),
        ("host", "主办单位"),
        ("date", "培训日期"),
    ),
    "awards": (
        ("national_number", "志愿者编号"),
        ("volunteer_number", "本系统编号"),
        ("title", "表彰奖励名称"),
        ("level", "级别"),
        ("date", "授予日期"),
        ("issuer", "授予单位"),
    ),
    "evaluations": (
        ("national_number", "志愿者编号"),
        ("volunteer_number", "本系统编号"),
        ("record_id", "记录编号"),
        ("activity_name", "活动名称"),
        ("score", "评价等级（1-5）"),
        ("date", "评价日期"),
        ("evaluator_unit", "评价单位"),
    ),
}
GENDER_LABELS = {"male": "男", "female": "女"}
ID_TYPE_LABELS = {"mainland_id": "居民身份证", "passport": "护照",
                  "hk_macau_permit": "港澳居民来往内地通行证",
                  "taiwan_permit": "台湾居民来往大陆通行证"}


def keys(section: str) -> list[str]:
    return [key for key, _ in SECTIONS[section]]


def headers(section: str) -> list[str]:
    return [header for _, header in SECTIONS[section]]
