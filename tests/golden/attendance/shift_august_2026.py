"""A shift worker (RSUD nurse, PPPK), August 2026, with night shifts, computed by hand.

Roster shifts: P (pagi) 07:00-14:00, S (siang) 14:00-21:00, M (malam) 21:00-07:00 next day; an
overnight shift belongs to the day it starts (domain-id.md §2.5). Shift windows: check-in from
2 h before to 4 h after the start, check-out from 2 h before to 3 h after the end. Holidays do
not give shift workers the day off (the roster decides): 17 Aug (Kemerdekaan) and 25 Aug
(Maulid) are worked P shifts. 31 Aug has no roster row yet: OFF with a remark, never TK.

The night shift of 31 Jul ends on 1 Aug at 07:02; that punch is 31 Jul's check-out, so 1 Aug
(a day off) shows no event. The same holds for the mornings of 9, 23 and 30 Aug.

Hand sums:
* HK = roster working days 3-8, 11-15, 17-22, 25-29 = 22.
* TL minutes 10 (4th) + 31 (8th) + 20 (14th) + 91 (20th) + 10 (22nd) + 5 (28th) = 167.
* PSW minutes 30 (6th) + 31 (18th) + 90 (22nd: 05:30 against 07:00) + 1 (28th) = 152.
* Deductions: 4th 0.50, 6th 0.50, 8th 1.00, 13th 5.00 (TK), 14th 2.00 (TL1 + PSW4),
  18th 1.00, 20th 1.50, 22nd 1.75 (TL1 + PSW3), 28th 1.00 = 14.25.
"""

from datetime import date, datetime
from decimal import Decimal

from tests.golden.attendance.build import WITA, Scenario, Stage

P, S, M = ("07:00", "14:00"), ("14:00", "21:00"), ("21:00", "07:00+1")
ROSTER: dict[date, tuple[str, str] | None] = {date(2026, 7, 31): M}
for day, shift in enumerate(
    # 1    2     3  4  5  6  7  8  9     10    11 12 13 14 15 16    17 18 19 20 21 22 23    24
    [
        None,
        None,
        P,
        P,
        S,
        S,
        M,
        M,
        None,
        None,
        P,
        P,
        S,
        S,
        M,
        None,
        P,
        P,
        S,
        S,
        M,
        M,
        None,
        None,
        # 25 26 27 28 29 30  (31: no row)
        P,
        P,
        S,
        S,
        M,
        None,
    ],
    start=1,
):
    ROSTER[date(2026, 8, day)] = shift

TABLE = """
# day | events                     | status code in       out        late tl  early psw  forgot dd
01    |                            | OFF    -    -        -          0    -   0     -    -      0
02    |                            | OFF    -    -        -          0    -   0     -    -      0
03    | fp 06:55, fp 14:01         | HADIR  -    06:55:00 14:01:00   0    -   0     -    -      0
04    | fp 07:10:00, fp 14:00:00   | HADIR  -    07:10:00 14:00:00   10   TL1 0     -    -      0.50
05    | fp 13:50, fp 21:05         | HADIR  -    13:50:00 21:05:00   0    -   0     -    -      0
06    | fp 13:58, hp 20:30:00      | HADIR  -    13:58:00 20:30:00   0    -   30    PSW1 -      0.50
07    | fp 20:55, fp 07:03+1       | HADIR  -    20:55:00 07:03:00+1 0    -   0     -    -      0
08    | fp 21:31:00, fp 07:00:00+1 | HADIR  -    21:31:00 07:00:00+1 31   TL2 0     -    -      1.00
09    |                            | OFF    -    -        -          0    -   0     -    -      0
10    |                            | OFF    -    -        -          0    -   0     -    -      0
11    |                            | ABSEN  CT   -        -          0    -   0     -    -      0
12    |                            | ABSEN  CT   -        -          0    -   0     -    -      0
13    |                            | TK     -    -        -          0    -   0     -    -      5.00
14    | fp 14:20:00                | HADIR  -    14:20:00 -          20   TL1 0     PSW4 out    2.00
15    | fp 21:00:30, +out 07:00+1  | HADIR  -    21:00:30 07:00:00+1 0    -   0     -    -      0
16    |                            | OFF    -    -        -          0    -   0     -    -      0
17    | fp 06:50, fp 14:00         | HADIR  -    06:50:00 14:00:00   0    -   0     -    -      0
18    | fp 07:00:59, fp 13:29:59   | HADIR  -    07:00:59 13:29:59   0    -   31    PSW2 -      1.00
19    | fp 13:55, fp 21:00         | HADIR  -    13:55:00 21:00:00   0    -   0     -    -      0
20    | hp 15:31:00, fp 21:10      | HADIR  -    15:31:00 21:10:00   91   TL4 0     -    -      1.50
21    | fp 20:45, fp 07:15+1       | HADIR  -    20:45:00 07:15:00+1 0    -   0     -    -      0
22    | fp 21:10, fp 05:30:00+1    | HADIR  -    21:10:00 05:30:00+1 10   TL1 90    PSW3 -      1.75
23    |                            | OFF    -    -        -          0    -   0     -    -      0
24    |                            | OFF    -    -        -          0    -   0     -    -      0
25    | fp 06:58, fp 14:02         | HADIR  -    06:58:00 14:02:00   0    -   0     -    -      0
26    |                            | HADIR  DIK  -        -          0    -   0     -    -      0
27    | fp 14:00:00, fp 21:00:00   | HADIR  -    14:00:00 21:00:00   0    -   0     -    -      0
28    | fp 14:05, fp 20:59:00      | HADIR  -    14:05:00 20:59:00   5    TL1 1     PSW1 -      1.00
29    | fp 20:58, fp 07:01+1       | HADIR  -    20:58:00 07:01:00+1 0    -   0     -    -      0
30    |                            | OFF    -    -        -          0    -   0     -    -      0
31    |                            | OFF    -    -        -          0    -   0     -    -      0
"""

# The night shift of 31 July, before the month: its check-out punch lands on 1 August.
BEFORE = """
31 | fp 20:50, fp 07:02+1 | HADIR - 20:50:00 07:02:00+1 0 - 0 - - 0
"""

SCENARIO = Scenario(
    name="shift worker, August 2026",
    year=2026,
    month=8,
    schedule="shift",
    employment_type="PPPK",
    stages=[
        Stage(
            now=datetime(2026, 9, 1, 12, 0, tzinfo=WITA),
            complete_upto=datetime(2026, 9, 1, 11, 0, tzinfo=WITA),
            table=TABLE,
        )
    ],
    roster=ROSTER,
    earlier=[(2026, 7, BEFORE)],
    absences=[
        (date(2026, 8, 11), date(2026, 8, 12), "CT"),
        (date(2026, 8, 26), date(2026, 8, 26), "DIK"),
    ],
    totals={
        "HK": 22,
        "H": 18,
        "DL": 1,
        "CT": 2,
        "TK": 1,
        "LIBUR": 0,
        "OFF": 9,
        "PENDING": 0,
        "TL1": 4,
        "TL2": 1,
        "TL3": 0,
        "TL4": 1,
        "TL_minutes": 167,
        "PSW1": 2,
        "PSW2": 1,
        "PSW3": 1,
        "PSW4": 1,
        "PSW_minutes": 152,
        "forgot_in": 0,
        "forgot_out": 1,
        "corrected": 1,
        "deduction": Decimal("14.25"),
    },
)
