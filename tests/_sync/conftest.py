"""Shell tests generated from tests/_async are plain functions; nothing to configure here."""
