#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growable array of integers with a sorted insert. */
struct int_vector {
	int *items;
	size_t length;
	size_t capacity;
};

static int vector_reserve(struct int_vector *v, size_t capacity)
{
	if (capacity <= v->capacity)
		return 0;
	int *items = realloc(v->items, capacity * sizeof(*items));
	if (!items)
		return -1;
	v->items = items;
	v->capacity = capacity;
	return 0;
}

int vector_push(struct int_vector *v, int value)
{
	if (v->length == v->capacity &&
	    vector_reserve(v, v->capacity ? v->capacity * 2 : 8) < 0)
		return -1;
	v->items[v->length++] = value;
	return 0;
}

int vector_insert_sorted(struct int_vector *v, int value)
{
	size_t low = 0, high = v->length;

	while (low < high) {
		size_t mid = low + (high - low) / 2;
		if (v->items[mid] < value)
			low = mid + 1;
		else
			high = mid;
	}
	if (vector_push(v, value) < 0)
		return -1;
	memmove(&v->items[low + 1], &v->items[low],
		(v->length - 1 - low) * sizeof(*v->items));
	v->items[low] = value;
	return 0;
}

void vector_free(struct int_vector *v)
{
	free(v->items);
	v->items = NULL;
	v->length = v->capacity = 0;
}

int main(void)
{
	struct int_vector v = { 0 };
	int values[] = { 5, 3, 9, 1, 7 };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (vector_insert_sorted(&v, values[i]) < 0) {
			fprintf(stderr, "out of memory\n");
			return EXIT_FAILURE;
		}
	}
	for (size_t i = 0; i < v.length; i++)
		printf("%d\n", v.items[i]);
	vector_free(&v);
	return EXIT_SUCCESS;
}
