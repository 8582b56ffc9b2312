-- Reads a user's presence.
--
-- KEYS[1..2]  the user's devices hash and presence hash (see lib/presence.lua)
--
-- Returns the presence as stored.
--#include lib/presence.lua
return snapshot(user_keys(1))
