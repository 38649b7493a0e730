-- 005_compression: compress both hypertables' chunks once they are 7 days old, per device, newest
-- first. A compressed chunk keeps answering SELECTs (and accepts late inserts); it takes roughly a
-- fifth of the space or less on meter data, whose values repeat and change slowly.
-- requires: community
--
-- Transactional. The timescaledb.compress* options are the spelling both 2.22 and 2.23 accept
-- (2.18+ also knows them as enable_columnstore/segmentby/orderby).
--   segmentby device_id  every query filters or groups by device, and each device's readings then
--                        compress as their own column batches
--   orderby time DESC    the order of the unique index (device_id, time DESC), which compression
--                        requires to be covered by segmentby + orderby; "latest first" reads
--                        decompress the fewest rows
-- compress_after 7 days = one chunk interval: a chunk is compressed once all of it is older than
-- 7 days, i.e. data is compressed between 7 and 14 days of age. The refresh windows of 004
-- (3 and 7 days) stay in the uncompressed part.

ALTER TABLE metrics SET (
  timescaledb.compress,
  timescaledb.compress_segmentby = 'device_id',
  timescaledb.compress_orderby = 'time DESC'
);

ALTER TABLE cost_calculations SET (
  timescaledb.compress,
  timescaledb.compress_segmentby = 'device_id',
  timescaledb.compress_orderby = 'time DESC'
);

SELECT add_compression_policy('metrics', compress_after => INTERVAL '7 days', if_not_exists => true);
SELECT add_compression_policy('cost_calculations', compress_after => INTERVAL '7 days', if_not_exists => true);
