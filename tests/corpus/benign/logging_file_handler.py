import logging

handler = logging.FileHandler("run.log")
handler.setFormatter(logging.Formatter("%(levelname)s:%(message)s"))
logger = logging.getLogger("job")
logger.addHandler(handler)
logger.setLevel(logging.DEBUG)
logger.debug("starting")
logger.warning("exec step skipped: %s", "no input")
