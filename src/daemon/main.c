/* sealpostd: placeholder until the master process lands. */
#include <stdio.h>

int
main(void)
{
	fprintf(stderr, "sealpostd: not yet implemented\n");
	return 1;
}
