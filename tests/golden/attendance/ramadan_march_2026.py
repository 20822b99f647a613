"""A five-day worker in Ramadan 1447 H: March 2026, computed by hand.

The Ramadan period is admin-entered as 19 Feb - 20 Mar 2026 (Idul Fitri fell on 21 Mar in
Indonesia, domain-id.md §2.4). Inside it the schedule switches to its Ramadan table:
Mon-Thu 08:00-15:00, Fri 08:00-15:30, with the Ramadan check-out window 13:00-18:00. From 25 Mar
the regular 07:30-16:00 / 16:30 applies again, so 07:55 is on time on 2 Mar and 25 minutes late
on 26 Mar.

Calendar: 18 Mar cuti bersama (Nyepi), 19 Mar Nyepi, 20 Mar cuti bersama (Idul Fitri),
21-22 Mar Idul Fitri (a weekend), 23-24 Mar cuti bersama. Working days: 2-6, 9-13, 16, 17,
25-27, 30, 31 = 17 (= §5.1's table for March 2026).

Absences: S (sakit, a doctor's note) on 10, I (izin) on 11.

Hand sums:
* TL minutes 1 (4th) + 31 (9th) + 25 (26th) + 1 (31st) = 58.
* PSW minutes 90 (5th: 13:30 against 15:00) + 1 (6th) + 30 (27th) + 1 (31st) = 122.
* Deductions: 4th 0.50, 5th 1.25, 6th 0.50, 9th 1.00, 13th 1.50, 17th 5.00 (TK), 26th 0.50,
  27th 0.50, 31st 1.00 = 11.75.
"""

from datetime import date, datetime
from decimal import Decimal

from tests.golden.attendance.build import WITA, Scenario, Stage

TABLE = """
# day | events                   | status code in       out      late tl  early psw  forgot dd
01    |                          | OFF    -    -        -        0    -   0     -    -      0
02    | fp 07:55, fp 15:00:00    | HADIR  -    07:55:00 15:00:00 0    -   0     -    -      0
03    | fp 08:00:59, fp 15:02    | HADIR  -    08:00:59 15:02:00 0    -   0     -    -      0
04    | fp 08:01:00, fp 15:00    | HADIR  -    08:01:00 15:00:00 1    TL1 0     -    -      0.50
05    | fp 07:50, fp 13:30:00    | HADIR  -    07:50:00 13:30:00 0    -   90    PSW3 -      1.25
06    | fp 07:58, fp 15:29:00    | HADIR  -    07:58:00 15:29:00 0    -   1     PSW1 -      0.50
07    |                          | OFF    -    -        -        0    -   0     -    -      0
08    |                          | OFF    -    -        -        0    -   0     -    -      0
09    | fp 08:31:00, fp 15:10    | HADIR  -    08:31:00 15:10:00 31   TL2 0     -    -      1.00
10    |                          | ABSEN  S    -        -        0    -   0     -    -      0
11    |                          | ABSEN  I    -        -        0    -   0     -    -      0
12    | fp 07:45, fp 15:00       | HADIR  -    07:45:00 15:00:00 0    -   0     -    -      0
13    | fp 07:59                 | HADIR  -    07:59:00 -        0    -   0     PSW4 out    1.50
14    |                          | OFF    -    -        -        0    -   0     -    -      0
15    |                          | OFF    -    -        -        0    -   0     -    -      0
16    | fp 08:00, fp 15:00       | HADIR  -    08:00:00 15:00:00 0    -   0     -    -      0
17    |                          | TK     -    -        -        0    -   0     -    -      5.00
18    |                          | LIBUR  -    -        -        0    -   0     -    -      0
19    |                          | LIBUR  -    -        -        0    -   0     -    -      0
20    |                          | LIBUR  -    -        -        0    -   0     -    -      0
21    |                          | LIBUR  -    -        -        0    -   0     -    -      0
22    |                          | LIBUR  -    -        -        0    -   0     -    -      0
23    |                          | LIBUR  -    -        -        0    -   0     -    -      0
24    |                          | LIBUR  -    -        -        0    -   0     -    -      0
25    | fp 07:30:30, fp 16:00    | HADIR  -    07:30:30 16:00:00 0    -   0     -    -      0
26    | fp 07:55:00, fp 16:00    | HADIR  -    07:55:00 16:00:00 25   TL1 0     -    -      0.50
27    | fp 07:29, fp 16:00:00    | HADIR  -    07:29:00 16:00:00 0    -   30    PSW1 -      0.50
28    |                          | OFF    -    -        -        0    -   0     -    -      0
29    |                          | OFF    -    -        -        0    -   0     -    -      0
30    | fp 07:20, fp 16:15       | HADIR  -    07:20:00 16:15:00 0    -   0     -    -      0
31    | fp 07:31:00, fp 15:59:00 | HADIR  -    07:31:00 15:59:00 1    TL1 1     PSW1 -      1.00
"""

SCENARIO = Scenario(
    name="Ramadan, March 2026",
    year=2026,
    month=3,
    stages=[
        Stage(
            now=datetime(2026, 4, 1, 9, 0, tzinfo=WITA),
            complete_upto=datetime(2026, 4, 1, 8, 0, tzinfo=WITA),
            table=TABLE,
        )
    ],
    ramadan=(date(2026, 2, 19), date(2026, 3, 20)),
    absences=[
        (date(2026, 3, 10), date(2026, 3, 10), "S"),
        (date(2026, 3, 11), date(2026, 3, 11), "I"),
    ],
    totals={
        "HK": 17,
        "H": 14,
        "DL": 0,
        "S": 1,
        "I": 1,
        "TK": 1,
        "LIBUR": 7,
        "OFF": 7,
        "PENDING": 0,
        "TL1": 3,
        "TL2": 1,
        "TL3": 0,
        "TL4": 0,
        "TL_minutes": 58,
        "PSW1": 3,
        "PSW2": 0,
        "PSW3": 1,
        "PSW4": 1,
        "PSW_minutes": 122,
        "forgot_in": 0,
        "forgot_out": 1,
        "corrected": 0,
        "deduction": Decimal("11.75"),
    },
)
