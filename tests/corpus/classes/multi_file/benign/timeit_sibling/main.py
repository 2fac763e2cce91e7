import bench
bench.run()
