/* sealpost: placeholder until the admin command lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "sealpost: not yet implemented\n");
	return 1;
}
