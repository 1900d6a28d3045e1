// Package kezekbot holds the domain of the kindergarten-queue bot: the IIN, applications,
// referrals, the queue order and the rules that decide what a parent may do.
//
// It does no I/O. Adapters live in subpackages named after what they adapt (store/postgres,
// store/redis, bot, signer-link) and speak to each other only in these types.
package kezekbot
