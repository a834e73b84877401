package com.example.shop

import kotlin.math.roundToInt

data class Product(val id: Int, val name: String, val priceCents: Int)

data class CartItem(val product: Product, val quantity: Int) {
    val totalCents: Int get() = product.priceCents * quantity
}

sealed class Discount {
    abstract fun apply(totalCents: Int): Int

    data class Percent(val percent: Int) : Discount() {
        override fun apply(totalCents: Int): Int =
            (totalCents * (100 - percent) / 100.0).roundToInt()
    }

    data class Fixed(val cents: Int) : Discount() {
        override fun apply(totalCents: Int): Int = maxOf(0, totalCents - cents)
    }
}

class Cart {
    private val items = mutableMapOf<Int, CartItem>()
    private var discount: Discount? = null

    fun add(product: Product, quantity: Int = 1) {
        require(quantity > 0) { "quantity must be positive" }
        val current = items[product.id]
        items[product.id] = if (current == null) {
            CartItem(product, quantity)
        } else {
            current.copy(quantity = current.quantity + quantity)
        }
    }

    fun remove(productId: Int) {
        items.remove(productId)
    }

    fun applyDiscount(discount: Discount) {
        this.discount = discount
    }

    fun totalCents(): Int {
        val subtotal = items.values.sumOf { it.totalCents }
        return discount?.apply(subtotal) ?: subtotal
    }

    fun summary(): String = items.values
        .sortedBy { it.product.name }
        .joinToString(separator = "\n") { "${it.quantity} x ${it.product.name}" }
}

fun main() {
    val cart = Cart()
    cart.add(Product(1, "Coffee", 450), 2)
    cart.add(Product(2, "Bagel", 300))
    cart.applyDiscount(Discount.Percent(10))
    println(cart.summary())
    println("Total: ${cart.totalCents() / 100.0}")
}
