import logging
import os

logging.basicConfig(
    level=os.environ.get("LOGLEVEL", "INFO"),
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)
log = logging.getLogger("etl")

def run(batch):
    log.info("processing %d records", len(batch))
    return [x * 2 for x in batch]

print(run([1, 2, 3]))
