#include <algorithm>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace library {

struct Book {
    std::string title;
    std::string author;
    int year = 0;
};

class Catalog {
public:
    void add(Book book) { books_.push_back(std::move(book)); }

    std::optional<Book> find(const std::string& title) const {
        auto it = std::find_if(books_.begin(), books_.end(),
                               [&](const Book& b) { return b.title == title; });
        if (it == books_.end()) {
            return std::nullopt;
        }
        return *it;
    }

    std::map<std::string, std::vector<Book>> by_author() const {
        std::map<std::string, std::vector<Book>> result;
        for (const auto& book : books_) {
            result[book.author].push_back(book);
        }
        return result;
    }

    std::vector<Book> sorted_by_year() const {
        std::vector<Book> sorted = books_;
        std::sort(sorted.begin(), sorted.end(),
                  [](const Book& a, const Book& b) { return a.year < b.year; });
        return sorted;
    }

    std::size_t size() const { return books_.size(); }

private:
    std::vector<Book> books_;
};

}  // namespace library

int main() {
    library::Catalog catalog;
    catalog.add({"The Pragmatic Programmer", "Hunt", 1999});
    catalog.add({"Refactoring", "Fowler", 1999});
    catalog.add({"Patterns of Enterprise Application Architecture", "Fowler", 2002});

    for (const auto& [author, books] : catalog.by_author()) {
        std::cout << author << ": " << books.size() << " book(s)\n";
    }
    if (auto book = catalog.find("Refactoring")) {
        std::cout << book->title << " (" << book->year << ")\n";
    }
    for (const auto& book : catalog.sorted_by_year()) {
        std::cout << book.year << " " << book.title << "\n";
    }
    return 0;
}
