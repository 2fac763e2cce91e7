import datetime as dt
import calendar
y, m = 2024, 2
print(calendar.monthrange(y, m))
print(dt.date(y, m, 1) + dt.timedelta(days=40))