package org.example.tasks;

import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;

/** A list of tasks with due dates and priorities. */
public final class TaskList {

    public enum Priority { LOW, MEDIUM, HIGH }

    public static final class Task {
        private final String title;
        private final LocalDate due;
        private final Priority priority;
        private boolean done;

        public Task(String title, LocalDate due, Priority priority) {
            this.title = Objects.requireNonNull(title, "title");
            this.due = Objects.requireNonNull(due, "due");
            this.priority = priority == null ? Priority.MEDIUM : priority;
        }

        public String getTitle() {
            return title;
        }

        public LocalDate getDue() {
            return due;
        }

        public Priority getPriority() {
            return priority;
        }

        public boolean isDone() {
            return done;
        }

        public void markDone() {
            this.done = true;
        }

        @Override
        public String toString() {
            return String.format("%s (%s, due %s)", title, priority, due);
        }
    }

    private final List<Task> tasks = new ArrayList<>();

    public void add(Task task) {
        tasks.add(task);
    }

    public List<Task> overdue(LocalDate today) {
        return tasks.stream()
                .filter(task -> !task.isDone() && task.getDue().isBefore(today))
                .sorted(Comparator.comparing(Task::getDue))
                .collect(Collectors.toList());
    }

    public List<Task> byPriority() {
        List<Task> sorted = new ArrayList<>(tasks);
        sorted.sort(Comparator.comparing(Task::getPriority).reversed()
                .thenComparing(Task::getDue));
        return sorted;
    }

    public static void main(String[] args) {
        TaskList list = new TaskList();
        LocalDate today = LocalDate.of(2024, 5, 1);
        list.add(new Task("write report", today.minusDays(2), Priority.HIGH));
        list.add(new Task("call supplier", today.plusDays(3), Priority.LOW));
        list.add(new Task("review code", today.minusDays(1), null));
        for (Task task : list.overdue(today)) {
            System.out.println("overdue: " + task);
        }
    }
}
