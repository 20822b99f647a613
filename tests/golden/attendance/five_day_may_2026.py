"""A five-day worker (PNS), May 2026, computed by hand.

Schedule "Reguler 5 hari" (domain-id.md §2.2): Mon-Thu 07:30-16:00, Fri 07:30-16:30. Windows
06:00-12:00 and 14:00-18:00. Late = floor(minutes), so 07:30:59 is on time; early = ceil.
Bands 1-30 / 31-60 / 61-90 / 91+ at 0.5 / 1 / 1.25 / 1.5 %; TK 5 %.

Calendar (holidays 0.109, public + government): 1 May Hari Buruh (Fri), 14 May Kenaikan (Thu),
15 May cuti bersama (Fri), 27 May Idul Adha (Wed), 28 May cuti bersama (Thu), 31 May Waisak
(Sun). Working days: 4-8, 11-13, 18-22, 25, 26, 29 = 16 (= §5.1's table for May 2026).

Absences: CT on 11-12, DL on 21. Corrections: a forgotten check-out added on 20; on 29 an 07:05
punch (a technician's test with the person's finger) is voided, so 07:45:30 is the check-in.

Hand sums:
* TL minutes 1 + 31 + 90 + 91 + 15 = 228; PSW minutes 1 + 1 + 91 = 93.
* Deductions: 06 1.00, 07 1.00, 08 0.50, 13 3.00 (TL4 + PSW4: one punch at 12:30, in neither
  window), 18 1.50, 19 1.50, 22 5.00 (TK), 25 1.50, 26 2.75 (TL3 1.25 + PSW4 1.5), 29 0.50
  = 18.25.
"""
# ruff: noqa: E501 -- a golden table keeps one day per line, whatever its width

from datetime import date, datetime
from decimal import Decimal

from tests.golden.attendance.build import WITA, Scenario, Stage

TABLE = """
# day | events                             | status code in       out      late tl  early psw  forgot dd
01    |                                    | LIBUR  -    -        -        0    -   0     -    -      0
02    |                                    | OFF    -    -        -        0    -   0     -    -      0
03    |                                    | OFF    -    -        -        0    -   0     -    -      0
04    | fp 07:25:10, fp 16:02:00           | HADIR  -    07:25:10 16:02:00 0    -   0     -    -      0
05    | fp 07:30:59, fp 16:00:00           | HADIR  -    07:30:59 16:00:00 0    -   0     -    -      0
06    | fp 07:31:00, fp 15:59:59           | HADIR  -    07:31:00 15:59:59 1    TL1 1     PSW1 -      1.00
07    | fp 08:01:00, fp 08:01:05, fp 16:10 | HADIR  -    08:01:00 16:10:00 31   TL2 0     -    -      1.00
08    | hp 07:20:00, fp 16:29:59           | HADIR  -    07:20:00 16:29:59 0    -   1     PSW1 -      0.50
09    | fp 09:00, fp 11:00                 | OFF    -    09:00:00 11:00:00 0    -   0     -    -      0
10    |                                    | OFF    -    -        -        0    -   0     -    -      0
11    |                                    | ABSEN  CT   -        -        0    -   0     -    -      0
12    |                                    | ABSEN  CT   -        -        0    -   0     -    -      0
13    | fp 12:30:00                        | HADIR  -    -        -        0    TL4 0     PSW4 both   3.00
14    | fp 08:00                           | LIBUR  -    08:00:00 -        0    -   0     -    -      0
15    |                                    | LIBUR  -    -        -        0    -   0     -    -      0
16    |                                    | OFF    -    -        -        0    -   0     -    -      0
17    |                                    | OFF    -    -        -        0    -   0     -    -      0
18    | fp 07:28                           | HADIR  -    07:28:00 -        0    -   0     PSW4 out    1.50
19    | fp 16:05                           | HADIR  -    -        16:05:00 0    TL4 0     -    in     1.50
20    | fp 07:29, +out 16:00               | HADIR  -    07:29:00 16:00:00 0    -   0     -    -      0
21    | fp 07:00                           | HADIR  DL   07:00:00 -        0    -   0     -    -      0
22    |                                    | TK     -    -        -        0    -   0     -    -      5.00
23    |                                    | OFF    -    -        -        0    -   0     -    -      0
24    |                                    | OFF    -    -        -        0    -   0     -    -      0
25    | fp 09:01:00, fp 16:00              | HADIR  -    09:01:00 16:00:00 91   TL4 0     -    -      1.50
26    | fp 09:00:59, fp 14:29:59           | HADIR  -    09:00:59 14:29:59 90   TL3 91    PSW4 -      2.75
27    |                                    | LIBUR  -    -        -        0    -   0     -    -      0
28    |                                    | LIBUR  -    -        -        0    -   0     -    -      0
29    | fp! 07:05, fp 07:45:30, fp 16:31   | HADIR  -    07:45:30 16:31:00 15   TL1 0     -    -      0.50
30    |                                    | OFF    -    -        -        0    -   0     -    -      0
31    |                                    | LIBUR  -    -        -        0    -   0     -    -      0
"""

SCENARIO = Scenario(
    name="five-day worker, May 2026",
    year=2026,
    month=5,
    stages=[
        Stage(
            now=datetime(2026, 6, 2, 8, 0, tzinfo=WITA),
            complete_upto=datetime(2026, 6, 1, 18, 30, tzinfo=WITA),
            table=TABLE,
        )
    ],
    absences=[
        (date(2026, 5, 11), date(2026, 5, 12), "CT"),
        (date(2026, 5, 21), date(2026, 5, 21), "DL"),
    ],
    totals={
        "HK": 16,
        "H": 12,
        "DL": 1,
        "CT": 2,
        "TK": 1,
        "LIBUR": 6,
        "OFF": 9,
        "PENDING": 0,
        "TL1": 2,
        "TL2": 1,
        "TL3": 1,
        "TL4": 3,
        "TL_minutes": 228,
        "PSW1": 2,
        "PSW2": 0,
        "PSW3": 0,
        "PSW4": 3,
        "PSW_minutes": 93,
        "forgot_in": 2,
        "forgot_out": 2,
        "corrected": 2,
        "deduction": Decimal("18.25"),
    },
)
