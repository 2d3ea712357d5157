"""The ASX profile (SPEC §3): DRR-style orders, trades and nbbo plus Genium reference files.

Everything ASX-specific lives here: the Sydney time zone, prices in tenths of a cent (A$),
the exchangeordertype bits, the dealsource venue classes and the changereason codes.
"""
from __future__ import annotations

from . import Column, Derived, Profile, TableDef, local_date_sql

TIME_ZONE = "Australia/Sydney"
SYDNEY_DATE_ICU = f"(make_timestamptz(\"timestamp\" // 1000) AT TIME ZONE '{TIME_ZONE}')::DATE"
SYDNEY_DATE = local_date_sql('"timestamp"', TIME_ZONE)   # = SYDNEY_DATE_ICU, ~5x cheaper

# exchangeordertype is a bit mask (test bits, never match a list of values): 4098 = block + short sell
ORDER_TYPE_BITS = {"centre_point": 64, "cp_crossing": 256, "sweep": 2048, "cp_block": 4096, "short_sell": 2}
# trade dealsource codes: 1 continuous lit, 44 lit UCP; 46 CP preferencing, 47 CP, 48 CP UCP;
# 20 auction, 45 auction UCP; 5 trade report (same orderid on both rows of the match group)
VENUE_CLASSES = {"centre_point": (46, 47, 48), "lit": (1, 44), "auction": (20, 45), "trade_report": (5,)}
CHANGEREASONS = {"new": 6, "traded": 3, "amended": 5, "trader_cancel": 1, "system_cancel": 9,
                 "end_of_day_purge": 24, "reload": 30}
# the words the sweeps table uses for a G3 sweep's final changereason (9 = fill-and-kill on ASX)
CHANGEREASON_LABELS = {1: "trader_cancel", 3: "traded", 5: "amended", 6: "new", 9: "fill_and_kill",
                       24: "end_of_day_purge", 30: "reloaded"}


def _cols(spec: str, required: str) -> tuple[Column, ...]:
    """Parse 'name TYPE, ...' and mark the names listed in ``required``."""
    req = set(required.split())
    out = []
    for item in spec.split(","):
        name, typ = item.split()
        out.append(Column(name, typ, name in req))
    return tuple(out)


ORDERS = TableDef(
    name="orders",
    columns=_cols(
        "order_id UBIGINT, exchange INTEGER, timestamp BIGINT, security_code INTEGER, price BIGINT,"
        " side INTEGER, changereason INTEGER, orderstatus INTEGER, quantity BIGINT,"
        " leavesquantity BIGINT, ordertype INTEGER, exchangeordertype INTEGER, national_bid BIGINT,"
        " national_offer BIGINT, bid BIGINT, offer BIGINT, participantid BIGINT,"
        " preferenceonly INTEGER, midtick INTEGER, singlefillminimumquantity BIGINT,"
        " minimumquantity BIGINT, sequence BIGINT, crossingkey BIGINT,"
        " totalmatchedquantity BIGINT, shortsellquantity BIGINT, triggercondition INTEGER,"
        " timevaliditydecoded VARCHAR, row_num BIGINT, timevalidity INTEGER",
        "order_id timestamp security_code price side orderstatus quantity leavesquantity"
        " exchangeordertype participantid totalmatchedquantity"),
    required_any=(("sequence", "row_num"),),
    derived=(Derived("seq", "BIGINT", 'coalesce("sequence", "row_num")'),),
    date_expr=SYDNEY_DATE,
    sort_by=("security_code", "timestamp", "seq"),
)

TRADES = TableDef(
    name="trades",
    columns=_cols(
        "EXCHANGE INTEGER, sequence BIGINT, tradedate DATE, tradetime BIGINT, securitycode INTEGER,"
        " orderid UBIGINT, dealsource INTEGER, dealsourcedecoded VARCHAR, exchangeinfo VARCHAR,"
        " matchgroupid UBIGINT, nationalbidpricesnapshot BIGINT, nationalofferpricesnapshot BIGINT,"
        " tradeprice BIGINT, quantity BIGINT, side INTEGER, sidedecoded VARCHAR,"
        " participantid BIGINT, passiveaggressive INTEGER, row_num BIGINT",
        "tradedate tradetime securitycode orderid dealsource matchgroupid tradeprice quantity side"),
    derived=(Derived("security_code", "INTEGER", '"securitycode"'),),
    date_expr='"tradedate"',
    sort_by=("security_code", "tradetime", "sequence", "row_num"),
)

NBBO = TableDef(
    name="nbbo",
    columns=_cols(
        "partition INTEGER, sequence BIGINT, tradedate BIGINT, bidprice BIGINT, creationtime BIGINT,"
        " offerprice BIGINT, orderbookid INTEGER, timestamp BIGINT, userid BIGINT, runid BIGINT",
        "orderbookid timestamp bidprice offerprice"),
    derived=(Derived("security_code", "INTEGER", '"orderbookid"'),),
    date_expr=SYDNEY_DATE,
    sort_by=("security_code", "timestamp", "sequence"),
)

PROFILE = Profile(
    name="asx",
    tables={
        "orders": ORDERS,
        "trades": TRADES,
        "nbbo": NBBO,
        "session": TableDef(name="session", kind="reference"),
        "reference": TableDef(name="reference", kind="reference"),
        "participants": TableDef(name="participants", kind="reference"),
    },
    time_zone=TIME_ZONE,
    price_scale=1000,                       # 3340 = A$3.340
    price_unit="tenths of a cent",
    currency_code="AUD",
    currency_symbol="A$",
    order_type_bits=ORDER_TYPE_BITS,
    venue_classes=VENUE_CLASSES,
    changereasons=CHANGEREASONS,
    changereason_labels=CHANGEREASON_LABELS,
    qualifying_dealsources=(1,),            # the study's choice (SPEC §5.3)
)
