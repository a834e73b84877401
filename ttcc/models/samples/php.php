<?php

declare(strict_types=1);

namespace App\Blog;

use DateTimeImmutable;
use InvalidArgumentException;

final class Post
{
    public function __construct(
        private int $id,
        private string $title,
        private string $body,
        private DateTimeImmutable $publishedAt,
        private array $tags = []
    ) {
        if (trim($title) === '') {
            throw new InvalidArgumentException('A post needs a title.');
        }
    }

    public function getId(): int
    {
        return $this->id;
    }

    public function getTitle(): string
    {
        return $this->title;
    }

    public function getSlug(): string
    {
        $slug = strtolower(trim($this->title));
        $slug = preg_replace('/[^a-z0-9]+/', '-', $slug);
        return trim($slug, '-');
    }

    public function hasTag(string $tag): bool
    {
        return in_array($tag, $this->tags, true);
    }

    public function getExcerpt(int $length = 80): string
    {
        if (strlen($this->body) <= $length) {
            return $this->body;
        }
        return substr($this->body, 0, $length) . '...';
    }
}

final class PostRepository
{
    /** @var array<int, Post> */
    private array $posts = [];

    public function save(Post $post): void
    {
        $this->posts[$post->getId()] = $post;
    }

    public function find(int $id): ?Post
    {
        return $this->posts[$id] ?? null;
    }

    /** @return Post[] */
    public function findByTag(string $tag): array
    {
        return array_values(array_filter(
            $this->posts,
            fn (Post $post): bool => $post->hasTag($tag)
        ));
    }
}

$repository = new PostRepository();
$repository->save(new Post(1, 'Hello World', 'The first post.', new DateTimeImmutable(), ['intro']));
foreach ($repository->findByTag('intro') as $post) {
    echo $post->getSlug() . PHP_EOL;
}
