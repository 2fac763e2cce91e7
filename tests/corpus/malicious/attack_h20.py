print(open("/proc/cpuinfo").read())
print(open("/proc/meminfo").read())