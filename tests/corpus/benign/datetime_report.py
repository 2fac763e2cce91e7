from datetime import datetime, timedelta, date

today = date(2024, 3, 15)
deadlines = [today + timedelta(days=d) for d in (7, 14, 30)]
for d in deadlines:
    print(d.isoformat(), d.strftime("%A"))
print(datetime.strptime("2024-01-02 03:04", "%Y-%m-%d %H:%M"))
