-- Reads a user's presence.
--
-- KEYS[1]  user devices hash (see lib/presence.lua)
-- KEYS[2]  user presence hash
--
-- Returns the presence as stored.
--#include lib/presence.lua
return snapshot()
