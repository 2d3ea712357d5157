-- step 9: drop the batch's temp tables (results were fetched as Arrow before this step)
-- grain: batch | reads: - | writes: - | parameters: none | SPEC §4 (memory stays bounded per batch)
DROP TABLE IF EXISTS a_liquidity;
DROP VIEW IF EXISTS a_markouts;
DROP TABLE IF EXISTS a_markout_horizons;
DROP TABLE IF EXISTS a_venue_classes;
DROP TABLE IF EXISTS a_dark_sweeps;
DROP TABLE IF EXISTS a_dark_matches;
DROP TABLE IF EXISTS a_sim_contras;
DROP TABLE IF EXISTS a_sim_sweeps;
DROP TABLE IF EXISTS a_sim_units;
DROP TABLE IF EXISTS a_scenario_costs;
DROP TABLE IF EXISTS a_sweeps;
DROP TABLE IF EXISTS a_fills;
DROP TABLE IF EXISTS a_order_states;
DROP TABLE IF EXISTS a_cp_orders;
DROP TABLE IF EXISTS a_quotes;
DROP TABLE IF EXISTS a_units;
