/* Unit tests for core/buf and core/str: bounds are the point. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/buf.h"
#include "core/str.h"

static void
test_buf_append_respects_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	assert_int_equal(b.len, 8);
	assert_int_equal(buf_append_char(&b, 'x'), -1);
	assert_string_equal(b.data, "helloabc");
	assert_int_equal(buf_printf(&b, "%d", 1), -1);
	buf_consume(&b, 5);
	assert_string_equal(b.data, "abc");
	assert_int_equal(buf_printf(&b, "%05d", 42), 0);
	assert_string_equal(b.data, "abc00042");
	buf_cleanup(&b);
}

static void
test_str_parse_u64_bounds(void **state)
{
	struct str_view cur = STR_VIEW_LIT("1234 rest");
	uint64_t v;

	(void)state;
	assert_int_equal(str_parse_u64(&cur, &v, UINT64_MAX), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(cur.len, 5);
	cur = STR_VIEW_LIT("99999999999999999999");
	assert_int_equal(str_parse_u64(&cur, &v, UINT64_MAX), -1);
	cur = STR_VIEW_LIT("101");
	assert_int_equal(str_parse_u64(&cur, &v, 100), -1);
	assert_int_equal(str_to_u64(STR_VIEW_LIT("12x"), &v, 1000), -1);
	assert_int_equal(str_to_u64(STR_VIEW_LIT(""), &v, 1000), -1);
}

static void
test_str_take_word_and_trim(void **state)
{
	struct str_view cur = STR_VIEW_LIT("  MAIL   FROM:<a@b>  ");
	struct str_view w;

	(void)state;
	str_skip_space(&cur);
	assert_int_equal(str_take_word(&cur, &w, 4), 0);
	assert_true(str_case_eq(w, "mail"));
	str_skip_space(&cur);
	assert_int_equal(str_take_word(&cur, &w, 3), -1);
	assert_true(str_eq(str_trim(cur), "FROM:<a@b>"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_respects_max),
		cmocka_unit_test(test_str_parse_u64_bounds),
		cmocka_unit_test(test_str_take_word_and_trim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
