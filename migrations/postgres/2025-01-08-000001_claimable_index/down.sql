DROP INDEX dossiers_claimable_idx;
