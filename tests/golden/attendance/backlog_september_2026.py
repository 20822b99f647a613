"""A terminal that falls behind: 1-10 September 2026, computed by hand at three moments.

The office's only terminal last reported an empty outbox on Friday 4 Sep at 18:30 WITA; its
network then fails until Thursday 10 Sep 07:50, while it keeps taking punches. Days whose
check-out window (until 18:00) closed after that watermark are PENDING, never TK: the punches
may still be in the terminal's outbox.

* Stage A, Tue 8 Sep 09:00: 1-4 Sep are judged; 7 Sep (Monday, long over) is PENDING.
* Stage B, Thu 10 Sep 08:00: the backlog is arriving (Monday's punches and Thursday's check-in
  are in) but the terminal has not yet reported an empty outbox: still PENDING, with what is
  known shown and nothing counted.
* Stage C, Thu 10 Sep 19:00: everything has arrived and the watermark is 18:45. Monday and
  Tuesday become HADIR; Wednesday had no punch at all and is the only TK.

Hand sums at stage C (1-10 Sep): HK 8, H 7, TK 1; TL1 on 3 Sep (10 min) and 8 Sep (5 min);
deductions 0.50 + 0.50 + 5.00 = 6.00.
"""

from datetime import datetime
from decimal import Decimal

from tests.golden.attendance.build import WITA, Scenario, Stage

STAGE_A = """
# day | events (arriving now) | status  code in       out      late tl  early psw forgot dd
01    | fp 07:20, fp 16:05    | HADIR   -    07:20:00 16:05:00 0    -   0     -   -      0
02    | fp 07:25, fp 16:10    | HADIR   -    07:25:00 16:10:00 0    -   0     -   -      0
03    | fp 07:40:00, fp 16:00 | HADIR   -    07:40:00 16:00:00 10   TL1 0     -   -      0.50
04    | fp 07:28, fp 16:31    | HADIR   -    07:28:00 16:31:00 0    -   0     -   -      0
05    |                       | OFF     -    -        -        0    -   0     -   -      0
06    |                       | OFF     -    -        -        0    -   0     -   -      0
07    |                       | PENDING -    -        -        0    -   0     -   -      0
08    |                       | PENDING -    -        -        0    -   0     -   -      0
09    |                       | PENDING -    -        -        0    -   0     -   -      0
10    |                       | PENDING -    -        -        0    -   0     -   -      0
"""

STAGE_B = """
07 | fp 07:22, fp 16:03 | PENDING - 07:22:00 16:03:00 0 - 0 - - 0
08 |                    | PENDING - -        -        0 - 0 - - 0
09 |                    | PENDING - -        -        0 - 0 - - 0
10 | fp 07:26           | PENDING - 07:26:00 -        0 - 0 - - 0
"""

STAGE_C = """
01 |                       | HADIR - 07:20:00 16:05:00 0  -   0 - - 0
03 |                       | HADIR - 07:40:00 16:00:00 10 TL1 0 - - 0.50
07 |                       | HADIR - 07:22:00 16:03:00 0  -   0 - - 0
08 | fp 07:35:00, fp 16:02 | HADIR - 07:35:00 16:02:00 5  TL1 0 - - 0.50
09 |                       | TK    - -        -        0  -   0 - - 5.00
10 | fp 16:20              | HADIR - 07:26:00 16:20:00 0  -   0 - - 0
"""

WATERMARK_FRIDAY = datetime(2026, 9, 4, 18, 30, tzinfo=WITA)

SCENARIO = Scenario(
    name="terminal backlog, 1-10 September 2026",
    year=2026,
    month=9,
    first=1,
    last=10,
    stages=[
        Stage(datetime(2026, 9, 8, 9, 0, tzinfo=WITA), WATERMARK_FRIDAY, STAGE_A),
        Stage(datetime(2026, 9, 10, 8, 0, tzinfo=WITA), WATERMARK_FRIDAY, STAGE_B),
        Stage(
            datetime(2026, 9, 10, 19, 0, tzinfo=WITA),
            datetime(2026, 9, 10, 18, 45, tzinfo=WITA),
            STAGE_C,
        ),
    ],
    totals={
        "HK": 8,
        "H": 7,
        "TK": 1,
        "OFF": 2,
        "PENDING": 0,
        "TL1": 2,
        "TL_minutes": 15,
        "deduction": Decimal("6.00"),
    },
)
