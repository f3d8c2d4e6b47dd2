/*
 * The relay's hook lists (src/relay/hooks.h) on their own: ordering,
 * removal by owner, and the reclamation of swapped-out lists only once
 * every reader slot has passed a quiescent point.
 */
#include <criterion/criterion.h>

#include <tern/error.h>

#include "relay/hooks.h"

static void f1(void) {}
static void f2(void) {}
static void f3(void) {}

static int wakes;

static void wake(void *ctx)
{
	wakes++;
}

Test(hooks_lists, order_and_remove_owner)
{
	tern__hooks h;
	const tern__hook_list *l;

	cr_assert_eq(tern__hooks_init(&h, 2, wake, NULL), 0);
	cr_assert_null(tern__hooks_get(&h, TERN__H_REJECT_EVENT));
	cr_assert_not(tern__hooks_any(&h, TERN__H_REJECT_EVENT));
	cr_assert_eq(tern__hooks_add(&h, TERN__H_REJECT_EVENT, "a", f1, NULL),
		     0);
	cr_assert_eq(tern__hooks_add(&h, TERN__H_REJECT_EVENT, "b", f2, NULL),
		     0);
	cr_assert_eq(tern__hooks_add(&h, TERN__H_REJECT_EVENT, "a", f3, NULL),
		     0);
	cr_assert_eq(tern__hooks_add(&h, TERN__H_CONNECT, "a", f1, NULL), 0);
	cr_assert_eq(tern__hooks_add(&h, TERN__H_CONNECT, "a", NULL, NULL),
		     TERN_EINVAL);
	l = tern__hooks_get(&h, TERN__H_REJECT_EVENT);
	cr_assert_eq(l->n, 3);
	cr_assert(l->v[0].fn == f1 && l->v[1].fn == f2 && l->v[2].fn == f3);
	tern__hooks_remove_owner(&h, "a");
	l = tern__hooks_get(&h, TERN__H_REJECT_EVENT);
	cr_assert_eq(l->n, 1);
	cr_assert(l->v[0].fn == f2);
	cr_assert_null(tern__hooks_get(&h, TERN__H_CONNECT),
		       "an emptied list is NULL: the fast path again");
	/* Nobody online: every retired list is gone already. */
	cr_assert_eq(atomic_load(&h.nretired), 0);
	tern__hooks_free(&h);
}

Test(hooks_lists, retired_lists_wait_for_readers)
{
	tern__hooks h;
	const tern__hook_list *held;

	cr_assert_eq(tern__hooks_init(&h, 2, wake, NULL), 0);
	cr_assert_eq(tern__hooks_add(&h, TERN__H_REJECT_EVENT, "a", f1, NULL),
		     0);
	/* Reader 0 runs (online) and holds the list; reader 1 is idle. */
	tern__hooks_online(&h, 0);
	held = tern__hooks_get(&h, TERN__H_REJECT_EVENT);
	wakes = 0;
	cr_assert_eq(tern__hooks_add(&h, TERN__H_REJECT_EVENT, "b", f2, NULL),
		     0);
	cr_assert_eq(wakes, 1, "readers are woken to reclaim");
	cr_assert_eq(atomic_load(&h.nretired), 1);
	/* Still valid for the reader that holds it. */
	cr_assert_eq(held->n, 1);
	cr_assert(held->v[0].fn == f1);
	cr_assert_eq(tern__hooks_get(&h, TERN__H_REJECT_EVENT)->n, 2);
	/* Its quiescent point frees it. */
	tern__hooks_quiescent(&h, 0);
	cr_assert_eq(atomic_load(&h.nretired), 0);
	/* Swapped while online again: an offline reader holds nothing, so
	 * the next registration call reclaims. */
	tern__hooks_remove_owner(&h, "b");
	cr_assert_eq(atomic_load(&h.nretired), 1);
	tern__hooks_remove_owner(&h, "nobody");
	cr_assert_eq(atomic_load(&h.nretired), 1, "reader 0 is still online");
	tern__hooks_offline(&h, 0);
	tern__hooks_remove_owner(&h, "nobody");
	cr_assert_eq(atomic_load(&h.nretired), 0);
	tern__hooks_free(&h);
}

Test(hooks_lists, resume_after_the_deferring_hook)
{
	tern__hooks h;
	const tern__hook_list *l;
	int ud;

	cr_assert_eq(tern__hooks_init(&h, 1, NULL, NULL), 0);
	tern__hooks_add(&h, TERN__H_REJECT_EVENT, "a", f1, NULL);
	tern__hooks_add(&h, TERN__H_REJECT_EVENT, "b", f2, &ud);
	tern__hooks_add(&h, TERN__H_REJECT_EVENT, "c", f3, NULL);
	l = tern__hooks_get(&h, TERN__H_REJECT_EVENT);
	cr_assert_eq(tern__hooks_resume_at(l, f2, &ud, 1), 2);
	/* A hook added before it: found by identity. */
	tern__hooks_remove_owner(&h, "a");
	l = tern__hooks_get(&h, TERN__H_REJECT_EVENT);
	cr_assert_eq(tern__hooks_resume_at(l, f2, &ud, 1), 1);
	/* The deferring hook removed: the one after it is next. */
	tern__hooks_remove_owner(&h, "b");
	l = tern__hooks_get(&h, TERN__H_REJECT_EVENT);
	cr_assert_eq(tern__hooks_resume_at(l, f2, &ud, 0), 0);
	cr_assert(l->v[0].fn == f3);
	cr_assert_eq(tern__hooks_resume_at(NULL, f2, &ud, 3), 0);
	tern__hooks_free(&h);
}
