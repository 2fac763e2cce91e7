import bench
bench.go()
